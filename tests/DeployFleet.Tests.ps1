#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.3.0' }
<#
    examples/Deploy-PrefectFleet.ps1 for real, with the remote end played here: no host to
    remote into exists on this machine, so New-PSSession, Copy-Item -ToSession, Invoke-Command
    -Session and Remove-PSSession are mocks. The Invoke-Command mock runs the example's own
    per-host script block in this process, once per session, the way remoting would on each host,
    passes each answer through PowerShell's serializer one level deep and tags it with
    PSComputerName, as remoting does; Install-PrefectStack, which runs on
    the hosts, is a mock that records what each host was given and answers as a host would. What
    is judged is the example's: the server first, the workers pointed at it with its auth, one
    row per host, one failing host not losing the others, -WhatIf passed through, no credential
    written.
#>

BeforeAll {
    $repositoryRoot = Split-Path -Path $PSScriptRoot -Parent
    $deploy = Join-Path -Path (Join-Path -Path $repositoryRoot -ChildPath 'examples') -ChildPath 'Deploy-PrefectFleet.ps1'
    $password = 'deploy-auth-' + [guid]::NewGuid().ToString('N')
    $auth = New-Object -TypeName System.Management.Automation.PSCredential -ArgumentList 'admin', (ConvertTo-SecureString -String $password -AsPlainText -Force)
    $remoteModule = 'C:\Program Files\WindowsPowerShell\Modules\PrefectWin'
    # What the mocks saw and which host fails where: one object the mocks and tests share.
    $state = @{
        onHost = ''
        installs = New-Object -TypeName 'System.Collections.Generic.List[object]'
        copies = New-Object -TypeName 'System.Collections.Generic.List[object]'
        removed = New-Object -TypeName 'System.Collections.Generic.List[object]'
        failing = @{}
    }

    # The real module's Install-PrefectStack is what the mock below stands in for, so the mock has
    # its parameters: a parameter the example passes and the cmdlet lacks fails the call here.
    $null = Import-Module -Name (Join-Path -Path $repositoryRoot -ChildPath 'PrefectWin.psd1') -Force
}

Describe 'examples/Deploy-PrefectFleet.ps1 over mocked remoting' {
    BeforeEach {
        $state.onHost = ''
        $state.installs.Clear()
        $state.copies.Clear()
        $state.removed.Clear()
        $state.failing.Clear()
        $module = Join-Path -Path $TestDrive -ChildPath 'PrefectWin'
        $null = New-Item -Path $module -ItemType Directory -Force
        Set-Content -LiteralPath (Join-Path -Path $module -ChildPath 'PrefectWin.psd1') -Value '@{}'

        Mock -CommandName New-PSSession -MockWith {
            $computer = @($PesterBoundParameters['ComputerName'])[0]
            if ($state.failing[$computer] -eq 'session') {
                throw "Connecting to remote server $computer failed: WinRM cannot complete the operation."
            }
            [PSCustomObject]@{ ComputerName = $computer; Id = $state.copies.Count }
        }
        # Not a Pester mock: Copy-Item's dynamic parameters would bind -ToSession to the real
        # PSSession type. A function of the same name comes first for the example's call.
        function Copy-Item {
            [CmdletBinding(SupportsShouldProcess = $true)]
            param([string[]] $Path, [string] $Destination, [object] $ToSession, [switch] $Recurse, [switch] $Force)
            if ($state.failing[$ToSession.ComputerName] -eq 'copy') {
                throw 'There is not enough space on the disk.'
            }
            $state.copies.Add([PSCustomObject]@{ ComputerName = $ToSession.ComputerName; Path = @($Path); Destination = $Destination; WhatIf = [bool]$WhatIfPreference })
        }
        Mock -CommandName Remove-PSSession -RemoveParameterType 'Session' -MockWith {
            foreach ($one in @($Session)) {
                $state.removed.Add($one.ComputerName)
            }
        }
        Mock -CommandName Invoke-Command -RemoveParameterType 'Session' -MockWith {
            foreach ($one in @($Session)) {
                if ($ScriptBlock.ToString() -match 'New-Item') {
                    continue
                }
                $state.onHost = $one.ComputerName
                # Back through remoting's serializer, one level deep as remoting does.
                foreach ($answer in @(& $ScriptBlock @ArgumentList)) {
                    $received = [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize($answer, 1))
                    $received | Add-Member -NotePropertyName 'PSComputerName' -NotePropertyValue $one.ComputerName -PassThru
                }
            }
        }
        Mock -CommandName Import-Module -ParameterFilter { $Name -eq $remoteModule } -MockWith { }
        Mock -CommandName Install-PrefectStack -MockWith {
            $state.installs.Add([PSCustomObject]@{ ComputerName = $state.onHost; Parameters = $PesterBoundParameters })
            switch ($state.failing[$state.onHost]) {
                'install' { throw "Install-PrefectStack: NSSM 2.24 on $($state.onHost) is older than 2.24-101." }
                'unhealthy' {
                    return [PSCustomObject]@{ Healthy = $false; Phases = @([PSCustomObject]@{ Name = 'interpreter'; Seconds = 4.0 }); Services = @(); Diagnosis = @([PSCustomObject]@{ Status = 'Fail'; Message = 'port 4200 is held by another process' }) }
                }
            }
            [PSCustomObject]@{ Healthy = $true; Phases = @([PSCustomObject]@{ Name = 'interpreter'; Seconds = 1.5 }, [PSCustomObject]@{ Name = 'health'; Seconds = 3.25 }); Services = @(); Diagnosis = @() }
        }

        function Invoke-TestDeploy {
            param([string[]] $Worker = @('worker01', 'worker02', 'worker03'), [switch] $WhatIf)
            $arguments = @{ ServerComputerName = 'prefect01'; WorkerComputerName = $Worker; ModulePath = $module; AuthCredential = $auth; AllowFrom = @('10.0.1.0/24'); Pool = 'etl'; NssmPath = 'C:\Tools\nssm.exe' }
            if ($WhatIf) {
                $arguments['WhatIf'] = $true
            }
            $output = @(& $deploy @arguments *>&1)
            $text = ($output | Format-List -Property * | Out-String) + ($output | Out-String)
            $text | Should -Not -Match ([regex]::Escape($password)) -Because 'no credential is written'
            @($output | Where-Object -FilterScript { $_.PSObject.TypeNames -contains 'PrefectWin.FleetResult' })
        }
    }

    It 'installs the server first, then each worker with the server''s API URL and the same auth, and writes one row per host' {
        $rows = Invoke-TestDeploy
        @($state.installs | ForEach-Object -Process { $_.ComputerName }) | Should -Be @('prefect01', 'worker01', 'worker02', 'worker03')
        $server = $state.installs[0].Parameters
        $server['Role'] | Should -BeExactly 'Server'
        $server['BindAddress'] | Should -BeExactly '0.0.0.0'
        [bool]$server['OpenFirewall'] | Should -BeTrue
        @($server['AllowFrom']) | Should -Be @('10.0.1.0/24')
        $server.ContainsKey('ApiUrl') | Should -BeFalse
        foreach ($worker in @($state.installs | Select-Object -Skip 1)) {
            $worker.Parameters['Role'] | Should -BeExactly 'Worker'
            $worker.Parameters['ApiUrl'] | Should -BeExactly 'http://prefect01:4200/api'
            $worker.Parameters['Pool'] | Should -BeExactly 'etl'
            $worker.Parameters.ContainsKey('OpenFirewall') | Should -BeFalse
        }
        foreach ($install in $state.installs) {
            $install.Parameters['AuthCredential'].UserName | Should -BeExactly 'admin'
            $install.Parameters['AuthCredential'].GetNetworkCredential().Password | Should -BeExactly $password
            $install.Parameters.ContainsKey('WhatIf') | Should -BeFalse
            $install.Parameters['NssmPath'] | Should -BeExactly 'C:\Tools\nssm.exe'
        }
        @($state.copies | ForEach-Object -Process { $_.ComputerName }) | Should -Be @('prefect01', 'worker01', 'worker02', 'worker03')
        @($state.copies | ForEach-Object -Process { $_.Destination } | Select-Object -Unique) | Should -Be @($remoteModule)
        @($state.copies | ForEach-Object -Process { $_.Path } | Select-Object -Unique) | Should -Be @(Join-Path -Path $module -ChildPath '*')
        Should -Invoke -CommandName Import-Module -ParameterFilter { $Name -eq $remoteModule } -Times 4 -Exactly

        (@($rows | ForEach-Object -Process { '{0}:{1}:{2}' -f $_.ComputerName, $_.Role, $_.Healthy }) -join ',') | Should -BeExactly 'prefect01:Server:True,worker01:Worker:True,worker02:Worker:True,worker03:Worker:True'
        $rows[1].Seconds.interpreter | Should -Be 1.5
        $rows[1].Seconds.health | Should -Be 3.25
        @($rows | Where-Object -FilterScript { $_.Failure }) | Should -BeNullOrEmpty
        @($state.removed | Sort-Object) | Should -Be @('prefect01', 'worker01', 'worker02', 'worker03')
    }

    It 'a host that fails at <Stage> gets its row with the failure, and the other hosts are installed' -ForEach @(
        @{ Stage = 'session'; Expected = 'No session: Connecting to remote server worker02 failed*' }
        @{ Stage = 'copy'; Expected = 'Copying the module failed: There is not enough space on the disk.' }
        @{ Stage = 'install'; Expected = 'Install-PrefectStack: NSSM 2.24 on worker02 is older than 2.24-101.' }
        @{ Stage = 'unhealthy'; Expected = 'port 4200 is held by another process' }
    ) {
        $state.failing['worker02'] = $Stage
        $rows = Invoke-TestDeploy
        @($rows | ForEach-Object -Process { $_.ComputerName } | Sort-Object) | Should -Be @('prefect01', 'worker01', 'worker02', 'worker03')
        $failed = @($rows | Where-Object -FilterScript { $_.ComputerName -eq 'worker02' })[0]
        $failed.Healthy | Should -BeFalse
        $failed.Failure | Should -BeLike $Expected
        @($rows | Where-Object -FilterScript { $_.ComputerName -ne 'worker02' -and -not $_.Healthy }) | Should -BeNullOrEmpty
        @($state.installs | ForEach-Object -Process { $_.ComputerName } | Where-Object -FilterScript { $_ -ne 'worker02' }) | Should -Be @('prefect01', 'worker01', 'worker03')
    }

    It 'runs no worker when the server failed, and says so in each worker''s row' {
        $state.failing['prefect01'] = 'install'
        $rows = Invoke-TestDeploy -Worker @('worker01', 'worker02')
        @($state.installs | ForEach-Object -Process { $_.ComputerName }) | Should -Be @('prefect01')
        $rows.Count | Should -Be 3
        $rows[0].Failure | Should -BeLike 'Install-PrefectStack: NSSM 2.24 on prefect01*'
        foreach ($row in @($rows | Select-Object -Skip 1)) {
            $row.Healthy | Should -BeFalse
            $row.Failure | Should -BeExactly 'Not run: the server on prefect01 is not healthy.'
        }
        @($state.removed | Sort-Object) | Should -Be @('prefect01', 'worker01', 'worker02')
    }

    It 'passes -WhatIf to every host and still copies the module the plan needs' {
        $state.failing['prefect01'] = 'unhealthy'
        $rows = Invoke-TestDeploy -WhatIf
        $rows.Count | Should -Be 4
        @($state.installs | ForEach-Object -Process { [bool]$_.Parameters['WhatIf'] }) | Should -Be @($true, $true, $true, $true) -Because 'a plan is no health check: the workers are shown too'
        @($state.copies | ForEach-Object -Process { $_.WhatIf }) | Should -Be @($false, $false, $false, $false)
    }

    It 'refuses a -ModulePath that is no module folder before it opens a session' {
        { & $deploy -ServerComputerName 'prefect01' -ModulePath $TestDrive -AuthCredential $auth } | Should -Throw -ExpectedMessage '*holds no PrefectWin.psd1*'
        Should -Invoke -CommandName New-PSSession -Times 0 -Exactly
    }
}
