#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.3.0' }
<#
    Restart-PrefectService and Update-PrefectService through the real module and the real
    backend, no mocks, with services kept by the POSIX stand-in for the Service Control Manager
    (PREFECTWIN_POSIX_SERVICE_ROOT; python/src/prefectwin/system/posix_standin.py). Each service
    is one JSON file of NSSM parameters and a marker, written here; -WhatIf plans read them and
    start nothing. The real upgrade and rollback with real servers is
    tests/services/test_upgrade.py.
#>

BeforeDiscovery {
    $onWindows = [System.Environment]::OSVersion.Platform -eq [System.PlatformID]::Win32NT
}

Describe 'Ordered restart and upgrade plans, against the POSIX service stand-in' -Skip:$onWindows -Tag 'Posix' {
    BeforeAll {
        $moduleRoot = Split-Path -Path $PSScriptRoot -Parent
        $prefectWin = Import-Module -Name (Join-Path -Path $moduleRoot -ChildPath 'PrefectWin.psd1') -Force -PassThru
        . (Join-Path -Path $PSScriptRoot -ChildPath 'EndToEnd.Helpers.ps1')
        $python = Get-TestBackendPython -Module $prefectWin
        $script:root = Join-Path -Path ([System.IO.Path]::GetTempPath()) -ChildPath ('prefectwin-ops-' + [guid]::NewGuid().ToString('N'))
        $null = New-Item -Path $script:root -ItemType Directory
        $serviceHome = Join-Path -Path $script:root -ChildPath 'home'
        $apiUrl = 'http://127.0.0.1:4399/api'

        function Write-TestService {
            param([string] $Name, [string] $Role, [string[]] $DependsOn)
            $marker = [ordered]@{
                managedBy = 'PrefectWin'; format = 1; role = $Role; prefectHome = $serviceHome; apiUrl = $apiUrl
                database = 'sqlite'; sqlitePath = (Join-Path -Path $serviceHome -ChildPath 'prefect.db'); stopTimeoutMs = 10000
            }
            $parameters = [ordered]@{
                Application = @($python)
                AppParameters = @('-m prefect server start --host 127.0.0.1 --port 4399')
                AppDirectory = @($serviceHome)
                AppEnvironmentExtra = @("PREFECT_HOME=$serviceHome")
            }
            if ($DependsOn) {
                $parameters['DependOnService'] = $DependsOn
            }
            $service = [ordered]@{ name = $Name; parameters = $parameters; marker = (ConvertTo-Json -InputObject $marker -Compress) }
            $path = Join-Path -Path $script:root -ChildPath ($Name.ToLowerInvariant() + '.json')
            Set-Content -LiteralPath $path -Value (ConvertTo-Json -InputObject $service -Depth 5) -Encoding ASCII
        }

        Write-TestService -Name 'OpsServer' -Role 'Server'
        Write-TestService -Name 'OpsWorker' -Role 'Worker' -DependsOn @('OpsServer')
        $script:savedRoot = $env:PREFECTWIN_POSIX_SERVICE_ROOT
        $env:PREFECTWIN_POSIX_SERVICE_ROOT = $script:root
    }

    AfterAll {
        $env:PREFECTWIN_POSIX_SERVICE_ROOT = $script:savedRoot
        # Only the folder this file made.
        if ($script:root -and (Split-Path -Path $script:root -Leaf) -like 'prefectwin-ops-*') {
            Remove-Item -LiteralPath $script:root -Recurse -Force -ErrorAction SilentlyContinue
        }
    }

    It 'Restart-PrefectService -WhatIf puts the server and its health gate before the worker, and starts nothing' {
        $plan = @(Get-PrefectService -Name 'OpsWorker', 'OpsServer' | Restart-PrefectService -TimeoutSec 30 -WhatIf)
        $plan.Count | Should -Be 1
        $plan[0].PSObject.TypeNames[0] | Should -BeExactly 'PrefectWin.ServiceRestart'
        $plan[0].WhatIf | Should -BeTrue
        @($plan[0].Actions | ForEach-Object -Process { '{0}:{1}' -f $_.kind, $_.target }) -join ' ' |
            Should -BeExactly 'start-service:OpsServer wait-healthy:OpsServer start-service:OpsWorker wait-healthy:OpsWorker'
        $plan[0].Actions[1].description | Should -BeLike '*30 s*healthy*'
        @(Get-ChildItem -LiteralPath $script:root -Filter '*.pid').Count | Should -Be 0
    }

    It 'Get-PrefectService reads the stand-in services as stopped' {
        $services = @(Get-PrefectService)
        @($services | ForEach-Object -Process { '{0}:{1}:{2}' -f $_.Name, $_.Role, $_.Health }) -join ' ' |
            Should -BeExactly 'OpsServer:Server:Stopped OpsWorker:Worker:Stopped'
    }

    It 'Update-PrefectService -WhatIf lists the backup, pip install and migration, with a note, and changes nothing' {
        $records = @(Update-PrefectService -Name 'OpsServer' -Version '3.99.0' -WhatIf 3>&1)
        $warnings = @($records | Where-Object -FilterScript { $_ -is [System.Management.Automation.WarningRecord] })
        $plan = @($records | Where-Object -FilterScript { $_ -isnot [System.Management.Automation.WarningRecord] })
        $plan.Count | Should -Be 1
        $plan[0].PSObject.TypeNames[0] | Should -BeExactly 'PrefectWin.ServiceUpdate'
        $plan[0].ToVersion | Should -BeExactly '3.99.0'
        $plan[0].FromVersion | Should -Match '^3\.'
        @($plan[0].Actions | ForEach-Object -Process { $_.kind }) -join ' ' | Should -BeExactly 'backup-database pip-install migrate-database'
        $plan[0].Actions[1].description | Should -BeLike "*prefect 3.99.0*$python*"
        @($plan[0].Backups).Count | Should -Be 1
        Test-Path -LiteralPath @($plan[0].Backups)[0] | Should -BeFalse
        @($warnings | ForEach-Object -Process { $_.Message }) -join ' ' | Should -BeLike '*stopped*no health gate*'
    }

    It 'a service that does not exist is a NotFound error record, and nothing is asked' {
        $restartErrors = $null
        $output = @(Restart-PrefectService -Name 'NoSuchService' -WhatIf -ErrorAction SilentlyContinue -ErrorVariable restartErrors)
        $output.Count | Should -Be 0
        @($restartErrors)[0].FullyQualifiedErrorId | Should -BeLike 'PrefectWin.NotFound,*'
    }

    It 'a version that is not a release is refused naming -Version' {
        $updateErrors = $null
        $output = @(Update-PrefectService -Name 'OpsServer' -Version 'latest' -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable updateErrors)
        $output.Count | Should -Be 0
        @($updateErrors)[0].FullyQualifiedErrorId | Should -BeLike 'PrefectWin.InvalidArgument,*'
        @($updateErrors)[0].TargetObject | Should -BeExactly 'Version'
    }
}

Describe 'Restart-PrefectService applied, with a real server and worker kept by the POSIX service stand-in' -Skip:$onWindows -Tag 'Posix' {
    BeforeAll {
        $moduleRoot = Split-Path -Path $PSScriptRoot -Parent
        $manifest = Join-Path -Path $moduleRoot -ChildPath 'PrefectWin.psd1'
        $prefectWin = Import-Module -Name $manifest -Force -PassThru
        . (Join-Path -Path $PSScriptRoot -ChildPath 'EndToEnd.Helpers.ps1')
        $python = Get-TestBackendPython -Module $prefectWin
        $script:root = Join-Path -Path $TestDrive -ChildPath 'services'
        $serviceHome = Join-Path -Path $TestDrive -ChildPath 'home'
        $logs = Join-Path -Path $serviceHome -ChildPath 'logs'
        $null = New-Item -Path $script:root, $logs -ItemType Directory
        $port = Get-TestFreePort
        $apiUrl = "http://127.0.0.1:$port/api"

        function Write-RunnableService {
            # A service as Install-PrefectService leaves it: NSSM's parameters and the marker.
            param([string] $Name, [string] $Role, [string] $Arguments, [string[]] $DependsOn, [hashtable] $Marker = @{})
            $stdout = Join-Path -Path $logs -ChildPath "$Name.stdout.log"
            $stderr = Join-Path -Path $logs -ChildPath "$Name.stderr.log"
            $data = [ordered]@{
                managedBy = 'PrefectWin'; format = 1; role = $Role; prefectHome = $serviceHome; apiUrl = $apiUrl
                logPaths = @($stdout, $stderr); stopTimeoutMs = 10000
            }
            foreach ($key in $Marker.Keys) {
                $data[$key] = $Marker[$key]
            }
            $parameters = [ordered]@{
                Application = @($python)
                AppParameters = @($Arguments)
                AppDirectory = @($serviceHome)
                AppStdout = @($stdout)
                AppStderr = @($stderr)
                AppStopMethodConsole = @('10000')
                AppEnvironmentExtra = @("PREFECT_HOME=$serviceHome", "PREFECT_API_URL=$apiUrl", 'PREFECT_SERVER_ANALYTICS_ENABLED=false', 'PREFECT_UI_ENABLED=false', 'PYTHONUTF8=1')
            }
            if ($DependsOn) {
                $parameters['DependOnService'] = $DependsOn
            }
            $service = [ordered]@{ name = $Name; parameters = $parameters; marker = (ConvertTo-Json -InputObject $data -Compress) }
            Set-Content -LiteralPath (Join-Path -Path $script:root -ChildPath ($Name.ToLowerInvariant() + '.json')) -Value (ConvertTo-Json -InputObject $service -Depth 5) -Encoding ascii
        }

        function Get-StandInHistory {
            # The stand-in's record of every start and stop, in the order they happened.
            $path = Join-Path -Path $script:root -ChildPath 'history.jsonl'
            if (-not (Test-Path -LiteralPath $path)) {
                return @()
            }
            @(Get-Content -LiteralPath $path | ForEach-Object -Process { $_ | ConvertFrom-Json })
        }

        function Invoke-Restart {
            # Restart-PrefectService in a PowerShell of its own, so its progress records are kept.
            param([hashtable] $Arguments)
            $shell = [System.Management.Automation.PowerShell]::Create()
            try {
                $null = $shell.AddScript({
                        param($manifest, $arguments)
                        Import-Module -Name $manifest
                        $ProgressPreference = 'Continue'
                        Restart-PrefectService @arguments -Confirm:$false
                    }).AddArgument($manifest).AddArgument($Arguments)
                $output = @($shell.Invoke())
                [PSCustomObject]@{
                    Output = $output
                    Progress = @($shell.Streams.Progress)
                    Errors = @($shell.Streams.Error | ForEach-Object -Process { $_.ToString() })
                }
            } finally {
                $shell.Dispose()
            }
        }

        $pool = 'restart-pool'
        Write-RunnableService -Name 'RestartServer' -Role 'Server' -Arguments "-m prefect server start --host 127.0.0.1 --port $port" -Marker @{ port = $port; database = 'sqlite'; sqlitePath = (Join-Path -Path $serviceHome -ChildPath 'prefect.db') }
        Write-RunnableService -Name 'RestartWorker' -Role 'Worker' -Arguments "-m prefect worker start --pool $pool --type process --name restart-worker" -DependsOn @('RestartServer') -Marker @{ pool = $pool; workerName = 'restart-worker' }
        # Installed, never started: a restart without -Name must leave it stopped.
        Write-RunnableService -Name 'RestartIdle' -Role 'Worker' -Arguments "-m prefect worker start --pool $pool --type process --name restart-idle" -DependsOn @('RestartServer') -Marker @{ pool = $pool; workerName = 'restart-idle' }
        $script:savedRoot = $env:PREFECTWIN_POSIX_SERVICE_ROOT
        $env:PREFECTWIN_POSIX_SERVICE_ROOT = $script:root
    }

    AfterAll {
        # Whatever still runs is stopped as the stand-in stops it (Ctrl-C to its group, then the tree).
        foreach ($name in 'RestartWorker', 'RestartIdle', 'RestartServer') {
            $pidFile = Join-Path -Path $script:root -ChildPath ($name.ToLowerInvariant() + '.pid')
            if (Test-Path -LiteralPath $pidFile) {
                $null = & $python -c 'import sys; from prefectwin.system.posix_standin import StandInServices; StandInServices(sys.argv[1]).stop_service(sys.argv[2], 20)' $script:root $name
            }
        }
        $env:PREFECTWIN_POSIX_SERVICE_ROOT = $script:savedRoot
    }

    It 'starts stopped services in order: the server, its health gate, then its worker and the worker''s gate' {
        $run = Invoke-Restart -Arguments @{ Name = @('RestartWorker', 'RestartServer'); TimeoutSec = 240 }
        $run.Errors | Should -BeNullOrEmpty -Because (Get-Content -LiteralPath (Join-Path -Path $logs -ChildPath 'RestartServer.stderr.log') -Tail 20 -ErrorAction SilentlyContinue | Out-String)
        @($run.Output).Count | Should -Be 1
        $run.Output[0].PSObject.TypeNames[0] | Should -BeExactly 'PrefectWin.ServiceRestart'
        @($run.Output[0].Services | ForEach-Object -Process { '{0}:{1}' -f $_.name, $_.health }) -join ' ' | Should -BeExactly 'RestartServer:Healthy RestartWorker:Healthy'
        @(Get-StandInHistory | ForEach-Object -Process { '{0}:{1}' -f $_.event, $_.service }) -join ' ' | Should -BeExactly 'started:RestartServer started:RestartWorker'
        @($run.Progress | Where-Object -FilterScript { $_.Activity -like '*healthy*' }).Count | Should -BeGreaterThan 1 -Because 'each health gate reports its progress'
    }

    It 'without -Name restarts only what runs: the worker stops before its server and starts after the server is healthy' {
        $before = @{}
        foreach ($name in 'RestartServer', 'RestartWorker') {
            $before[$name] = (Get-Content -LiteralPath (Join-Path -Path $script:root -ChildPath ($name.ToLowerInvariant() + '.pid')) | ConvertFrom-Json).pid
        }
        $seen = @(Get-StandInHistory).Count
        $run = Invoke-Restart -Arguments @{ TimeoutSec = 240 }
        $run.Errors | Should -BeNullOrEmpty
        $history = @(Get-StandInHistory | Select-Object -Skip $seen)
        @($history | ForEach-Object -Process { '{0}:{1}' -f $_.event, $_.service }) -join ' ' |
            Should -BeExactly 'stopping:RestartWorker stopped:RestartWorker stopping:RestartServer stopped:RestartServer started:RestartServer started:RestartWorker'
        # The old processes were the ones stopped, and new ones run now.
        @($history | Where-Object -FilterScript { $_.event -eq 'stopped' } | ForEach-Object -Process { '{0}:{1}' -f $_.service, ($_.pid -eq $before[$_.service]) }) -join ' ' |
            Should -BeExactly 'RestartWorker:True RestartServer:True'
        @($history | Where-Object -FilterScript { $_.event -eq 'started' -and $_.pid -eq $before[$_.service] }).Count | Should -Be 0
        # The server's gate passed before the worker started: the worker's start comes after a
        # progress record that says the server is healthy.
        $serverHealthy = @($run.Progress | Where-Object -FilterScript { $_.StatusDescription -like '*RestartServer: Healthy*' })
        $serverHealthy.Count | Should -BeGreaterThan 0
        @($run.Progress | Where-Object -FilterScript { $_.StatusDescription -like '*RestartWorker: Healthy*' }).Count | Should -BeGreaterThan 0
        @($run.Output[0].Names) -join ' ' | Should -BeExactly 'RestartWorker RestartServer'
        @($run.Output[0].Services | ForEach-Object -Process { '{0}:{1}' -f $_.name, $_.health }) -join ' ' | Should -BeExactly 'RestartWorker:Healthy RestartServer:Healthy'
        @(Get-PrefectService -Name 'RestartIdle')[0].Status | Should -BeExactly 'Stopped'
        @($history | Where-Object -FilterScript { $_.service -eq 'RestartIdle' }).Count | Should -Be 0
    }

    It 'a service that is not there is an ObjectNotFound error whose target is its name, from every service cmdlet' -TestCases @(
        @{ Cmdlet = 'Get-PrefectService'; Arguments = @{ Name = 'NoSuchService' } }
        @{ Cmdlet = 'Wait-PrefectService'; Arguments = @{ Name = 'NoSuchService'; TimeoutSec = 5 } }
        @{ Cmdlet = 'Restart-PrefectService'; Arguments = @{ Name = 'NoSuchService'; WhatIf = $true } }
        @{ Cmdlet = 'Update-PrefectService'; Arguments = @{ Name = 'NoSuchService'; Version = '3.99.0'; WhatIf = $true } }
        @{ Cmdlet = 'Get-PrefectServiceLog'; Arguments = @{ Name = 'NoSuchService'; Tail = 1 } }
        @{ Cmdlet = 'Uninstall-PrefectService'; Arguments = @{ Name = 'NoSuchService'; WhatIf = $true } }
    ) {
        param($Cmdlet, $Arguments)
        $problems = $null
        $output = @(& $Cmdlet @Arguments -ErrorAction SilentlyContinue -ErrorVariable problems)
        $output.Count | Should -Be 0
        @($problems).Count | Should -Be 1
        [string]$problems[0].FullyQualifiedErrorId | Should -BeExactly "PrefectWin.NotFound,$Cmdlet"
        $problems[0].CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::ObjectNotFound)
        $problems[0].TargetObject | Should -BeExactly 'NoSuchService'
    }

    It 'a service whose interpreter is gone is an ObjectNotFound error whose target is that interpreter' {
        $missing = Join-Path -Path $TestDrive -ChildPath 'gone/bin/python'
        $service = Get-Content -LiteralPath (Join-Path -Path $script:root -ChildPath 'restartidle.json') -Raw | ConvertFrom-Json
        $service.name = 'RestartGone'
        $service.parameters.Application = @($missing)
        Set-Content -LiteralPath (Join-Path -Path $script:root -ChildPath 'restartgone.json') -Value (ConvertTo-Json -InputObject $service -Depth 5) -Encoding ascii
        try {
            $problems = $null
            $null = Update-PrefectService -Name 'RestartGone' -Version '3.99.0' -WhatIf -ErrorAction SilentlyContinue -ErrorVariable problems
            [string]$problems[0].FullyQualifiedErrorId | Should -BeExactly 'PrefectWin.NotFound,Update-PrefectService'
            $problems[0].CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::ObjectNotFound)
            $problems[0].TargetObject | Should -BeExactly $missing
        } finally {
            Remove-Item -LiteralPath (Join-Path -Path $script:root -ChildPath 'restartgone.json')
        }
    }
}
