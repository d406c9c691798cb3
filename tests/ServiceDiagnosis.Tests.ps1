#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.3.0' }
<#
    Test-PrefectEnvironment -ServiceName under real pwsh, end to end: the real module, the real
    bridge and the real backend, whose system adapter is the stateful fake
    (tests/fakes/fake_service_backend.py), because the services of a Windows Service Control
    Manager exist only on Windows. Everything the services point at is real: their interpreter
    is this test run's python (with Prefect), their working folders and the .env in one of them
    are TestDrive folders, so the backend really runs the service's interpreter there with the
    service's environment.
#>

BeforeAll {
    $moduleRoot = Split-Path -Path $PSScriptRoot -Parent
    $prefectWin = Import-Module -Name (Join-Path -Path $moduleRoot -ChildPath 'PrefectWin.psd1') -Force -PassThru
    $savedPython = $env:PREFECTWIN_PYTHON
    $savedMachine = $env:PREFECTWIN_FAKE_MACHINE
    $python = (& $prefectWin { Resolve-PrefectPython -Force }).Path
    . (Join-Path -Path $PSScriptRoot -ChildPath 'EndToEnd.Helpers.ps1')
    $launcher = New-TestFakeBackendLauncher -Python $python -Directory $TestDrive

    $serverAuth = 'admin:Quoll-Server-Auth-3e7'
    $workerAuth = 'admin:Potoroo-Worker-Auth-5b9'
    $port = 4311
    $serverDir = Join-Path -Path $TestDrive -ChildPath 'server'
    $workerDir = Join-Path -Path $TestDrive -ChildPath 'worker'
    $tempDir = Join-Path -Path $TestDrive -ChildPath 'temp'
    foreach ($folder in @($serverDir, $workerDir, $tempDir)) {
        $null = New-Item -ItemType Directory -Path $folder
    }
    # The worker's .env names another port and another auth string than its server's.
    Set-Content -LiteralPath (Join-Path -Path $workerDir -ChildPath '.env') -Value @('PREFECT_API_URL=http://127.0.0.1:1/api', "PREFECT_API_AUTH_STRING=$workerAuth") -Encoding Ascii

    function New-TestMarker {
        param([hashtable] $Data)
        $Data['managedBy'] = 'PrefectWin'
        $Data['format'] = 1
        ConvertTo-Json -InputObject $Data -Compress
    }

    $machine = @{
        services = @(
            @{
                name = 'PrefectServer'
                marker = (New-TestMarker -Data @{ role = 'Server'; port = $port; bindAddress = '127.0.0.1'; apiUrl = "http://127.0.0.1:$port/api"; prefectHome = $serverDir })
                parameters = @{
                    Application = @($python)
                    AppParameters = @("-m prefect server start --host 127.0.0.1 --port $port")
                    AppDirectory = @($serverDir)
                    AppEnvironmentExtra = @("PREFECT_HOME=$serverDir", "PREFECT_SERVER_API_AUTH_STRING=$serverAuth")
                    ObjectName = @('LocalSystem')
                }
            },
            @{
                name = 'PrefectWorker'
                marker = (New-TestMarker -Data @{ role = 'Worker'; apiUrl = "http://127.0.0.1:$port/api"; prefectHome = $workerDir; pool = 'etl' })
                parameters = @{
                    Application = @($python)
                    AppParameters = @('-m prefect worker start --pool etl')
                    AppDirectory = @($workerDir)
                    AppEnvironmentExtra = @("PREFECT_HOME=$workerDir", 'PYTHONUTF8=1')
                    DependOnService = @('PrefectServer')
                    ObjectName = @('LocalSystem')
                }
            }
        )
        accounts = @{
            'NT AUTHORITY\SYSTEM' = @{
                principal = 'NT AUTHORITY\SYSTEM'
                sid = 'S-1-5-18'
                environment = @{ PATH = (Split-Path -Path $python -Parent); TEMP = $tempDir }
                executionPolicies = @{ LocalMachine = 'RemoteSigned' }
            }
        }
    }
    $machinePath = Join-Path -Path $TestDrive -ChildPath 'machine.json'
    Set-Content -LiteralPath $machinePath -Value (ConvertTo-Json -InputObject $machine -Depth 8) -Encoding UTF8
    $env:PREFECTWIN_FAKE_MACHINE = $machinePath
    $env:PREFECTWIN_PYTHON = $launcher
    & $prefectWin { $script:PrefectWinBackendPython = $null }
    # One backend process for the whole file (a session), as an admin's shell would keep one.
    Start-PrefectSession
}

AfterAll {
    Stop-PrefectSession
    $env:PREFECTWIN_PYTHON = $savedPython
    $env:PREFECTWIN_FAKE_MACHINE = $savedMachine
    & $prefectWin { $script:PrefectWinBackendPython = $null }
}

Describe 'Test-PrefectEnvironment -ServiceName' {
    It 'diagnoses the service with its own interpreter, .env and account, and names it in every result' {
        $checks = 'python.found', 'settings.api-url', 'service.working-directory', 'service.temp', 'service.api-url-match', 'service.auth-match'
        $all = @(Test-PrefectEnvironment -ServiceName 'PrefectWorker' -Check $checks -Verbose 4>&1)
        $results = @($all | Where-Object -FilterScript { $_ -isnot [System.Management.Automation.VerboseRecord] })
        $results.Count | Should -Be 6
        @($results | Where-Object -FilterScript { $_.PSObject.TypeNames[0] -ne 'PrefectWin.CheckResult' }).Count | Should -Be 0
        @($results | ForEach-Object -Process { $_.Service } | Sort-Object -Unique) -join ',' | Should -BeExactly 'PrefectWorker'
        $byCheck = @{}
        foreach ($result in $results) {
            $byCheck[$result.Check] = $result
        }
        $byCheck['python.found'].Message | Should -BeLike "*$python*"
        $byCheck['settings.api-url'].Message | Should -BeExactly 'PREFECT_API_URL is http://127.0.0.1:1/api.'
        $byCheck['service.temp'].Status | Should -BeExactly 'Pass'
        $byCheck['service.api-url-match'].Status | Should -BeExactly 'Fail'
        $byCheck['service.api-url-match'].Message | Should -BeExactly "Worker PrefectWorker talks to http://127.0.0.1:1/api (from .env file), but server PrefectServer listens on port $port."
        $byCheck['service.api-url-match'].Remediation | Should -BeLike "*-ApiUrl http://127.0.0.1:$port/api*"
        $byCheck['service.auth-match'].Status | Should -BeExactly 'Fail'
        $text = ($all | Out-String) + ($results | ConvertTo-Json -Depth 8)
        foreach ($secret in @($serverAuth, $workerAuth, 'Quoll-Server-Auth-3e7', 'Potoroo-Worker-Auth-5b9')) {
            $text | Should -Not -BeLike "*$secret*"
        }
    }

    It 'takes the services of Get-PrefectService from the pipeline, one diagnosis each' {
        $results = @(Get-PrefectService | Test-PrefectEnvironment -Check 'service.working-directory')
        $results.Count | Should -Be 2
        (@($results | ForEach-Object -Process { $_.Service }) | Sort-Object) -join ',' | Should -BeExactly 'PrefectServer,PrefectWorker'
        @($results | Where-Object -FilterScript { $_.Status -ne 'Pass' }).Count | Should -Be 0
        ($results | Where-Object -FilterScript { $_.Service -eq 'PrefectWorker' }).Data.envFile | Should -BeExactly (Join-Path -Path $workerDir -ChildPath '.env')
    }

    It 'shows which service each row of the table is from, and no Service for a diagnosis of the shell' {
        $results = @(Get-PrefectService | Test-PrefectEnvironment -Check 'service.working-directory', 'service.temp')
        $lines = @(($results | Out-String -Width 200) -split '\r?\n' | Where-Object -FilterScript { $_.Trim() -and $_ -notmatch '^[-\s]+$' -and $_ -notmatch '^Check\s+Status' })
        # Each service's header, then its own rows, in the order the services came.
        @($lines | ForEach-Object -Process {
                if ($_ -match '^\s*Service: (\S+)\s*$') { 'service:' + $Matches[1] } elseif ($_ -match '^(service\.\S+)') { $Matches[1] }
            }) -join ' ' | Should -BeExactly 'service:PrefectServer service.working-directory service.temp service:PrefectWorker service.working-directory service.temp'
        $shell = [PSCustomObject]@{ PSTypeName = 'PrefectWin.CheckResult'; Check = 'python.found'; Status = 'Pass'; Message = 'found'; Service = $null }
        $text = $shell | Out-String -Width 200
        $text | Should -Match 'python\.found\s+Pass\s+found'
        $text | Should -Not -Match 'Service'
    }

    It 'writes an error for a service that does not exist and goes on with the next' {
        $piped = @([PSCustomObject]@{ Name = 'NoSuchService' }, [PSCustomObject]@{ ServiceName = 'PrefectServer' })
        $results = @($piped | Test-PrefectEnvironment -Check 'service.working-directory' -ErrorVariable problems -ErrorAction SilentlyContinue)
        $problems.Count | Should -Be 1
        [string]$problems[0].FullyQualifiedErrorId | Should -BeExactly 'PrefectWin.NotFound,Test-PrefectEnvironment'
        $problems[0].Exception.Message | Should -BeLike "*'NoSuchService' does not exist*"
        $problems[0].TargetObject | Should -BeExactly 'NoSuchService' -Because 'the target is the service that was not found, not the parameter'
        $problems[0].CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::ObjectNotFound)
        $results.Count | Should -Be 1
        $results[0].Service | Should -BeExactly 'PrefectServer'
    }

    It 'refuses -ServiceName together with -PythonPath before anything is sent' {
        { Test-PrefectEnvironment -ServiceName 'PrefectWorker' -PythonPath $python } | Should -Throw -ErrorId 'AmbiguousParameterSet,Test-PrefectEnvironment'
    }
}
