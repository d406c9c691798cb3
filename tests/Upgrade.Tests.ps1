#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.3.0' }
<#
    Update-PrefectService for real, from pwsh: the real module, the real backend, a real Prefect
    server, no mocks. The service is kept by the POSIX stand-in for the Service Control Manager
    (PREFECTWIN_POSIX_SERVICE_ROOT; python/src/prefectwin/system/posix_standin.py), installed
    by tests/standin_service.py from a real ServiceSpec (Install-PrefectService needs Windows'
    accounts, ACLs and firewall), on a COPY of the cached Prefect 3.6.29 target venv
    (tests/target_venvs.py), so the cache stays 3.6.29. The module starts it
    (Restart-PrefectService), then upgrades it to 3.9.1 from the wheelhouse (-WheelPath): one
    upgrade in this file, the expensive part. -WhatIf comes first and must change nothing. The
    rollback of a failed upgrade, byte for byte, is tests/test_service_upgrade.py.
#>

BeforeDiscovery {
    $onWindows = [System.Environment]::OSVersion.Platform -eq [System.PlatformID]::Win32NT
    $wheelhouse = Join-Path -Path (Split-Path -Path (Split-Path -Path $PSScriptRoot -Parent) -Parent) -ChildPath 'shared/wheelhouse'
    $noWheelhouse = -not (Test-Path -LiteralPath $wheelhouse -PathType Container)
}

Describe 'Update-PrefectService 3.6.29 -> 3.9.1 of a real server, against the POSIX service stand-in' -Skip:($onWindows -or $noWheelhouse) -Tag 'Posix' {
    BeforeAll {
        $moduleRoot = Split-Path -Path $PSScriptRoot -Parent
        $prefectWin = Import-Module -Name (Join-Path -Path $moduleRoot -ChildPath 'PrefectWin.psd1') -Force -PassThru
        . (Join-Path -Path $PSScriptRoot -ChildPath 'EndToEnd.Helpers.ps1')
        $backend = Get-TestBackendPython -Module $prefectWin
        $script:backend = $backend
        $script:wheelhouse = Join-Path -Path (Split-Path -Path $moduleRoot -Parent) -ChildPath 'shared/wheelhouse'
        $script:work = Join-Path -Path ([System.IO.Path]::GetTempPath()) -ChildPath ('prefectwin-upgrade-' + [guid]::NewGuid().ToString('N'))
        $script:root = Join-Path -Path $script:work -ChildPath 'services'
        $script:name = 'PesterUpgradeServer'
        $script:helper = Join-Path -Path $PSScriptRoot -ChildPath 'standin_service.py'
        $null = New-Item -Path $script:work -ItemType Directory

        $installed = & $backend $script:helper install $script:root $script:work '3.6.29' $script:name
        if ($LASTEXITCODE -ne 0) {
            throw "tests/standin_service.py install failed (exit $LASTEXITCODE): $installed"
        }
        $script:service = ConvertFrom-Json -InputObject (@($installed)[-1])

        function Get-TargetVersion {
            # Prefect's own CLI is the oracle, run in the venv copy without the caller's settings.
            $saved = @{}
            foreach ($variable in @(Get-ChildItem -Path 'Env:' | Where-Object -FilterScript { $_.Name -like 'PREFECT_*' })) {
                $saved[$variable.Name] = $variable.Value
                Remove-Item -LiteralPath ('Env:' + $variable.Name)
            }
            try {
                $lines = & $script:service.python -m prefect version 2>&1
            } finally {
                foreach ($key in $saved.Keys) {
                    Set-Item -LiteralPath ('Env:' + $key) -Value $saved[$key]
                }
            }
            $line = @($lines | Where-Object -FilterScript { "$_" -match '^\s*Version:' })[0]
            ("$line" -replace '^\s*Version:\s*', '').Trim()
        }

        $script:savedRoot = $env:PREFECTWIN_POSIX_SERVICE_ROOT
        $script:savedNoCompile = $env:PIP_NO_COMPILE
        $env:PREFECTWIN_POSIX_SERVICE_ROOT = $script:root
        # Test time only: bytecode is then written at first import instead of by pip.
        $env:PIP_NO_COMPILE = '1'
        $script:started = @(Restart-PrefectService -Name $script:name -TimeoutSec 240 -Confirm:$false)
    }

    AfterAll {
        if ($script:root -and (Test-Path -LiteralPath $script:root)) {
            & $script:backend $script:helper stop $script:root $script:name
        }
        $env:PREFECTWIN_POSIX_SERVICE_ROOT = $script:savedRoot
        $env:PIP_NO_COMPILE = $script:savedNoCompile
        # Only the folder this file made.
        if ($script:work -and (Split-Path -Path $script:work -Leaf) -like 'prefectwin-upgrade-*') {
            Remove-Item -LiteralPath $script:work -Recurse -Force -ErrorAction SilentlyContinue
        }
    }

    It 'starts the 3.6.29 server through the module, healthy' {
        $script:started.Count | Should -Be 1
        @($script:started[0].Services | ForEach-Object -Process { '{0}:{1}:{2}' -f $_.Name, $_.Health, $_.Version }) |
            Should -BeExactly @("$($script:name):Healthy:3.6.29")
    }

    It '-WhatIf lists every step of the upgrade and changes nothing' {
        $before = Get-PrefectService -Name $script:name
        $records = @(Update-PrefectService -Name $script:name -Version '3.9.1' -WheelPath $script:wheelhouse -WhatIf 3>&1)
        $plan = @($records | Where-Object -FilterScript { $_ -isnot [System.Management.Automation.WarningRecord] })
        $plan.Count | Should -Be 1
        $plan[0].PSObject.TypeNames[0] | Should -BeExactly 'PrefectWin.ServiceUpdate'
        $plan[0].WhatIf | Should -BeTrue
        "$($plan[0].FromVersion) -> $($plan[0].ToVersion)" | Should -BeExactly '3.6.29 -> 3.9.1'
        $plan[0].PythonPath | Should -BeExactly $script:service.python
        @($plan[0].Actions | ForEach-Object -Process { $_.kind }) -join ' ' |
            Should -BeExactly 'stop-service backup-database pip-install migrate-database start-service wait-healthy'

        # Nothing moved: the same process still serves, still 3.6.29, and no backup was written.
        $after = Get-PrefectService -Name $script:name
        "$($after.Pid):$($after.Health):$($after.Version)" | Should -BeExactly "$($before.Pid):Healthy:3.6.29"
        Test-Path -LiteralPath @($plan[0].Backups)[0] | Should -BeFalse
        Get-TargetVersion | Should -BeExactly '3.6.29'
    }

    It 'upgrades the interpreter to 3.9.1 for real, migrates the database and reaches a healthy 3.9.1 server' {
        $result = @(Update-PrefectService -Name $script:name -Version '3.9.1' -WheelPath $script:wheelhouse -TimeoutSec 240 -Confirm:$false)
        $result.Count | Should -Be 1
        $result[0].Changed | Should -BeTrue
        $result[0].WhatIf | Should -BeFalse
        @($result[0].Services | ForEach-Object -Process { '{0}:{1}:{2}' -f $_.Name, $_.Health, $_.Version }) |
            Should -BeExactly @("$($script:name):Healthy:3.9.1")

        Get-TargetVersion | Should -BeExactly '3.9.1'
        $now = Get-PrefectService -Name $script:name
        "$($now.Health):$($now.Version)" | Should -BeExactly 'Healthy:3.9.1'
        # The server's own answer, asked directly (never through a proxy; -NoProxy is not in 5.1).
        $client = New-Object -TypeName System.Net.WebClient
        $client.Proxy = $null
        try {
            ConvertFrom-Json -InputObject $client.DownloadString("$($script:service.apiUrl)/admin/version") | Should -BeExactly '3.9.1'
        } finally {
            $client.Dispose()
        }
        # The 3.6.29 database stays as the way back, beside the migrated one.
        Test-Path -LiteralPath @($result[0].Backups)[0] -PathType Leaf | Should -BeTrue
    }
}
