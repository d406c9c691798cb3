#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.3.0' }
<#
    Pester 5 tests of the service cmdlets, beyond the generic contract fixtures
    (tests/PrefectWin.Tests.ps1):
    - PSCredentials travel as {userName, password} inside the request, and only there;
    - plan, confirm, apply, and -PassThru's PrefectWin.ServiceInfo;
    - names from the pipeline become ONE backend call (Get-, Wait-PrefectService);
    - Uninstall-PrefectService takes the name by property name.

    The backend's answers come from tests/contract-services/recorded.json, recorded from the real
    request handler (tests/services/test_recorded.py keeps them current). The one seam is
    'Mock Invoke-PrefectBackend -ModuleName PrefectWin'; each mocked call serializes the request
    with the module's own ConvertTo-PrefectRequestJson and hands the recorded response to the
    module's own ConvertFrom-PrefectResponse.
#>

BeforeAll {
    $moduleRoot = Split-Path -Path $PSScriptRoot -Parent
    $prefectWin = Import-Module -Name (Join-Path -Path $moduleRoot -ChildPath 'PrefectWin.psd1') -Force -PassThru
    $recordedPath = Join-Path -Path (Join-Path -Path $PSScriptRoot -ChildPath 'contract-services') -ChildPath 'recorded.json'
    $recorded = Get-Content -LiteralPath $recordedPath -Raw -Encoding UTF8 | ConvertFrom-Json

    function New-TestCredential {
        param([string] $UserName, [string] $Password)
        $secure = New-Object -TypeName System.Security.SecureString
        foreach ($character in $Password.ToCharArray()) {
            $secure.AppendChar($character)
        }
        New-Object -TypeName System.Management.Automation.PSCredential -ArgumentList @($UserName, $secure)
    }

    function New-TestState {
        # What a mocked backend answers (call N gets the recorded exchange named $Names[N]) and
        # what it was asked.
        param([string[]] $Names)
        @{
            Names = $Names
            Calls = 0
            Requests = New-Object -TypeName 'System.Collections.Generic.List[object]'
        }
    }

    function Invoke-TestExchange {
        # The body of the Invoke-PrefectBackend mock: keep the request as the bridge would write
        # it, and answer with the recorded response through the module's own response handling.
        param([System.Collections.IDictionary] $Bound, [hashtable] $State)
        $exchange = $recorded.($State.Names[$State.Calls])
        $State.Calls++
        $whatIf = $Bound.ContainsKey('WhatIf') -and [bool]$Bound['WhatIf']
        $apply = $null
        if ($Bound.ContainsKey('Apply')) {
            $apply = $Bound['Apply']
        }
        $json = & $prefectWin {
            param($command, $values, $flag, $applyField)
            ConvertTo-PrefectRequestJson -Command $command -Parameters $values -WhatIf:$flag -Apply $applyField
        } $Bound['Command'] $Bound['Parameters'] $whatIf $apply
        $State.Requests.Add((ConvertFrom-Json -InputObject $json))
        $stdout = ConvertTo-Json -InputObject $exchange.response -Depth 30 -Compress
        & $prefectWin {
            param($cmdlet, $command, $text)
            ConvertFrom-PrefectResponse -Cmdlet $cmdlet -Command $command -Response (ConvertFrom-Json -InputObject $text)
        } $Bound['Cmdlet'] $Bound['Command'] $stdout
    }

    function Get-SortedName {
        param([object] $InputObject)
        (@($InputObject.PSObject.Properties | ForEach-Object -Process { $_.Name }) | Sort-Object) -join ','
    }

    $installArguments = @{
        Name = 'PrefectServer'
        Role = 'Server'
        PythonPath = '/opt/prefect/venv/bin/python'
        PrefectHome = '/srv/prefect'
        Port = 4200
        BindAddress = '0.0.0.0'
        OpenFirewall = $true
        DatabaseUrl = 'postgresql+asyncpg://prefect@db01:5432/prefect'
        DatabaseCredential = (New-TestCredential -UserName 'prefect' -Password 'Recorded-Db-Pw-1')
        Account = 'CONTOSO\svc-prefect'
        Credential = (New-TestCredential -UserName 'CONTOSO\svc-prefect' -Password 'Recorded-Acct-Pw-2')
        AuthCredential = (New-TestCredential -UserName 'admin' -Password 'Recorded-Auth-Pw-3')
        PassThru = $true
    }
}

Describe 'Install-PrefectService' {
    It 'sends each PSCredential as userName and password inside the request, exactly the recorded request' {
        $state = New-TestState -Names @('install-plan')
        Mock -CommandName Invoke-PrefectBackend -ModuleName PrefectWin -MockWith { Invoke-TestExchange -Bound $PesterBoundParameters -State $state }
        $output = @(Install-PrefectService @installArguments -WhatIf)
        $state.Calls | Should -Be 1
        $output.Count | Should -Be 0
        $request = $state.Requests[0]
        $wanted = $recorded.'install-plan'.request
        $request.whatIf | Should -BeTrue
        (Get-SortedName -InputObject $request.params) | Should -BeExactly (Get-SortedName -InputObject $wanted.params)
        $request.params.databaseCredential.userName | Should -BeExactly 'prefect'
        $request.params.databaseCredential.password | Should -BeExactly 'Recorded-Db-Pw-1'
        $request.params.credential.userName | Should -BeExactly 'CONTOSO\svc-prefect'
        $request.params.credential.password | Should -BeExactly 'Recorded-Acct-Pw-2'
        $request.params.authCredential.userName | Should -BeExactly 'admin'
        $request.params.authCredential.password | Should -BeExactly 'Recorded-Auth-Pw-3'
        $request.params.openFirewall | Should -BeTrue
        $request.params.port | Should -Be 4200
    }

    It 'no ShouldProcess message (what -WhatIf prints) holds the auth string; the plan names it masked' {
        $state = New-TestState -Names @('install-plan')
        Mock -CommandName Invoke-PrefectBackend -ModuleName PrefectWin -MockWith { Invoke-TestExchange -Bound $PesterBoundParameters -State $state }
        $transcript = Join-Path -Path $TestDrive -ChildPath 'what-if.txt'
        $null = Start-Transcript -LiteralPath $transcript
        try {
            $null = Install-PrefectService @installArguments -WhatIf
        } finally {
            $null = Stop-Transcript
        }
        $text = Get-Content -LiteralPath $transcript -Raw
        $text | Should -Match 'What if:'
        # The plan names the auth string where it goes, the secrets file, never its value.
        $text | Should -Match "Write the secrets file [^\r\n]*PREFECT_SERVER_API_AUTH_STRING"
        $text | Should -Not -Match 'Recorded-Auth-Pw-3'
    }

    It 'applies the plan after confirmation and -PassThru returns a PrefectWin.ServiceInfo' {
        $state = New-TestState -Names @('install-plan', 'install-applied')
        Mock -CommandName Invoke-PrefectBackend -ModuleName PrefectWin -MockWith { Invoke-TestExchange -Bound $PesterBoundParameters -State $state }
        $output = @(Install-PrefectService @installArguments -Confirm:$false)
        $state.Calls | Should -Be 2
        $state.Requests[1].whatIf | Should -BeFalse
        $output.Count | Should -Be 1
        $output[0].PSObject.TypeNames[0] | Should -BeExactly 'PrefectWin.ServiceInfo'
        $output[0].Name | Should -BeExactly 'PrefectServer'
        $output[0].Role | Should -BeExactly 'Server'
        $output[0].Port | Should -Be 4200
    }

    It 'an empty plan applies nothing and calls the backend once' {
        $state = New-TestState -Names @('install-again')
        Mock -CommandName Invoke-PrefectBackend -ModuleName PrefectWin -MockWith { Invoke-TestExchange -Bound $PesterBoundParameters -State $state }
        $arguments = @{} + $installArguments
        $arguments.Remove('PassThru')
        $output = @(Install-PrefectService @arguments -Confirm:$false)
        $state.Calls | Should -Be 1
        $output.Count | Should -Be 0
    }

    It 'an empty plan with -PassThru is still applied (by its id, confirming nothing) and returns the service' {
        $state = New-TestState -Names @('install-again', 'install-again-applied')
        Mock -CommandName Invoke-PrefectBackend -ModuleName PrefectWin -MockWith { Invoke-TestExchange -Bound $PesterBoundParameters -State $state }
        $output = @(Install-PrefectService @installArguments -Confirm:$false)
        $state.Calls | Should -Be 2
        $state.Requests[1].apply.planId | Should -BeExactly $recorded.'install-again'.response.result.planId
        @($state.Requests[1].apply.confirm).Count | Should -Be 0
        $output.Count | Should -Be 1
        $output[0].PSObject.TypeNames[0] | Should -BeExactly 'PrefectWin.ServiceInfo'
    }
}

Describe 'Get-PrefectService' {
    It 'collects names from the pipeline into one backend call' {
        $state = New-TestState -Names @('get-named')
        Mock -CommandName Invoke-PrefectBackend -ModuleName PrefectWin -MockWith { Invoke-TestExchange -Bound $PesterBoundParameters -State $state }
        $output = @([PSCustomObject]@{ Name = 'PrefectServer' }, [PSCustomObject]@{ Name = 'PrefectWorker' } | Get-PrefectService)
        $state.Calls | Should -Be 1
        @($state.Requests[0].params.name) -join ',' | Should -BeExactly 'PrefectServer,PrefectWorker'
        $output.Count | Should -Be 2
        $output[0].PSObject.TypeNames[0] | Should -BeExactly 'PrefectWin.ServiceInfo'
        ($output | ForEach-Object -Process { $_.Role }) -join ',' | Should -BeExactly 'Server,Worker'
    }

    It 'without -Name asks for every managed service' {
        $state = New-TestState -Names @('get-all')
        Mock -CommandName Invoke-PrefectBackend -ModuleName PrefectWin -MockWith { Invoke-TestExchange -Bound $PesterBoundParameters -State $state }
        $output = @(Get-PrefectService)
        (Get-SortedName -InputObject $state.Requests[0].params) | Should -BeExactly ''
        $output.Count | Should -Be 2
    }
}

Describe 'Wait-PrefectService' {
    It 'collects names from the pipeline into one call and writes the backend error' {
        $state = New-TestState -Names @('wait-missing')
        Mock -CommandName Invoke-PrefectBackend -ModuleName PrefectWin -MockWith { Invoke-TestExchange -Bound $PesterBoundParameters -State $state }
        $waitErrors = $null
        $output = @([PSCustomObject]@{ Name = 'PrefectServer' } | Wait-PrefectService -TimeoutSec 1 -ErrorAction SilentlyContinue -ErrorVariable waitErrors)
        $state.Calls | Should -Be 1
        @($state.Requests[0].params.name) -join ',' | Should -BeExactly 'PrefectServer'
        $state.Requests[0].params.timeoutSec | Should -Be 1
        $output.Count | Should -Be 0
        @($waitErrors)[0].FullyQualifiedErrorId | Should -BeLike 'PrefectWin.NotFound,*'
    }
}

Describe 'Uninstall-PrefectService' {
    It 'takes the name by property name, plans, and applies after confirmation' {
        $state = New-TestState -Names @('uninstall-plan', 'uninstall-applied')
        Mock -CommandName Invoke-PrefectBackend -ModuleName PrefectWin -MockWith { Invoke-TestExchange -Bound $PesterBoundParameters -State $state }
        $output = @([PSCustomObject]@{ Name = 'PrefectServer' } | Uninstall-PrefectService -RemoveLogs -Confirm:$false)
        $state.Calls | Should -Be 2
        $state.Requests[0].whatIf | Should -BeTrue
        $state.Requests[1].whatIf | Should -BeFalse
        $state.Requests[0].params.removeLogs | Should -BeTrue
        $output.Count | Should -Be 1
        $output[0].PSObject.TypeNames[0] | Should -BeExactly 'PrefectWin.ServicePlan'
        $output[0].Changed | Should -BeTrue
    }

    It '-RemoveDatabase -WhatIf plans and changes nothing' {
        $state = New-TestState -Names @('uninstall-worker-plan')
        Mock -CommandName Invoke-PrefectBackend -ModuleName PrefectWin -MockWith { Invoke-TestExchange -Bound $PesterBoundParameters -State $state }
        $output = @(Uninstall-PrefectService -Name PrefectWorker -RemoveDatabase -WhatIf)
        $state.Calls | Should -Be 1
        $state.Requests[0].params.removeDatabase | Should -BeTrue
        $output.Count | Should -Be 1
        $output[0].WhatIf | Should -BeTrue
    }

    It 'refuses to delete a PostgreSQL database, before anything is confirmed' {
        $state = New-TestState -Names @('uninstall-database-refused')
        Mock -CommandName Invoke-PrefectBackend -ModuleName PrefectWin -MockWith { Invoke-TestExchange -Bound $PesterBoundParameters -State $state }
        $uninstallErrors = $null
        $output = @(Uninstall-PrefectService -Name PrefectServer -RemoveDatabase -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable uninstallErrors)
        $state.Calls | Should -Be 1
        $output.Count | Should -Be 0
        @($uninstallErrors)[0].FullyQualifiedErrorId | Should -BeLike 'PrefectWin.InvalidArgument,*'
    }
}
