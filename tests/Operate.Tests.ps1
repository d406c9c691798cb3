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
        $python = $env:PREFECTWIN_PYTHON
        if (-not $python) {
            $python = & $prefectWin { (Resolve-PrefectPython -Force).Path }
        }
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
