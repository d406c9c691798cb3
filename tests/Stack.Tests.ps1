#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.3.0' }
<#
    Install-PrefectStack through the real module and the real backend, no mocks, with services
    kept by the POSIX stand-in for the Service Control Manager (PREFECTWIN_POSIX_SERVICE_ROOT).
    -WhatIf lists the whole plan and creates nothing; bad input is a structured error naming
    its parameter; and a real install runs a real server and worker behind basic auth from the
    backend's own venv (it has the pinned Prefect, so the plan has no venv or pip step: the
    real venv and pip install are tests/stack/test_real.py's), then a second run changes
    nothing.
#>

BeforeDiscovery {
    $onWindows = [System.Environment]::OSVersion.Platform -eq [System.PlatformID]::Win32NT
}

Describe 'Install-PrefectStack against the POSIX service stand-in' -Skip:$onWindows -Tag 'Posix' {
    BeforeAll {
        $moduleRoot = Split-Path -Path $PSScriptRoot -Parent
        $prefectWin = Import-Module -Name (Join-Path -Path $moduleRoot -ChildPath 'PrefectWin.psd1') -Force -PassThru
        . (Join-Path -Path $PSScriptRoot -ChildPath 'EndToEnd.Helpers.ps1')
        $script:python = Get-TestBackendPython -Module $prefectWin
        $script:root = Join-Path -Path ([System.IO.Path]::GetTempPath()) -ChildPath ('prefectwin-stack-' + [guid]::NewGuid().ToString('N'))
        $null = New-Item -Path $script:root -ItemType Directory
        $script:services = Join-Path -Path $script:root -ChildPath 'services'
        $script:stackHome = Join-Path -Path $script:root -ChildPath 'home'
        $script:saved = Save-TestEnvironment
        $env:PREFECTWIN_POSIX_SERVICE_ROOT = $script:services
        $env:PREFECTWIN_DATA_DIR = Join-Path -Path $script:root -ChildPath 'data'
        $script:auth = New-Object -TypeName System.Management.Automation.PSCredential -ArgumentList @('admin', (ConvertTo-SecureString -String 'Quoll-Stack-8e4!' -AsPlainText -Force))
    }

    AfterAll {
        foreach ($name in @('PrefectWorker', 'PrefectServer')) {
            if (Test-Path -LiteralPath (Join-Path -Path $script:services -ChildPath ($name.ToLowerInvariant() + '.pid'))) {
                & $script:python (Join-Path -Path $PSScriptRoot -ChildPath 'standin_service.py') stop $script:services $name
            }
        }
        Restore-TestEnvironment -Saved $script:saved
        # Only the folder this file made.
        if ($script:root -and (Split-Path -Path $script:root -Leaf) -like 'prefectwin-stack-*') {
            Remove-Item -LiteralPath $script:root -Recurse -Force -ErrorAction SilentlyContinue
        }
    }

    It '-WhatIf shows the whole plan (venv, pip, each service, the wait) as one plan, and creates nothing' {
        $plan = @(Install-PrefectStack -PythonPath $script:python -PrefectHome $script:stackHome -Port (Get-TestFreePort) -WhatIf)
        $plan.Count | Should -Be 1
        $plan[0].PSObject.TypeNames[0] | Should -BeExactly 'PrefectWin.StackResult'
        $plan[0].WhatIf | Should -BeTrue
        $kinds = @($plan[0].Actions | ForEach-Object -Process { $_.kind })
        $kinds[0..1] -join ' ' | Should -BeExactly 'create-venv install-prefect'
        $kinds[-1] | Should -BeExactly 'wait-healthy'
        @($plan[0].Actions | Where-Object -FilterScript { $_.kind -eq 'install-service' } | ForEach-Object -Process { $_.target }) -join ' ' |
            Should -BeExactly 'PrefectServer PrefectWorker'
        $plan[0].VenvPath | Should -BeLike (Join-Path -Path $env:PREFECTWIN_DATA_DIR -ChildPath '*prefect-3.9.1')
        Test-Path -LiteralPath $plan[0].VenvPath | Should -BeFalse
        Test-Path -LiteralPath (Split-Path -Path $plan[0].VenvPath -Parent) | Should -BeFalse
        Test-Path -LiteralPath $script:stackHome | Should -BeFalse
        Test-Path -LiteralPath $script:services | Should -BeFalse
    }

    It 'gives the backend time for pip, its rollback and three health waits of -TimeoutSec' {
        $asked = [System.Collections.Generic.List[int]]::new()
        Mock -CommandName Invoke-PrefectBackend -ModuleName PrefectWin -MockWith { $asked.Add($PesterBoundParameters['TimeoutSec']) }
        $null = Install-PrefectStack -TimeoutSec 900 -WhatIf
        $null = Install-PrefectStack -WhatIf
        @($asked) -join ' ' | Should -BeExactly '6300 4140'
    }

    It 'refuses bad input with a structured error that names the parameter, and changes nothing' {
        $output = @(Install-PrefectStack -Role Worker -ErrorAction SilentlyContinue -ErrorVariable stackErrors)
        $output.Count | Should -Be 0
        @($stackErrors)[0].FullyQualifiedErrorId | Should -BeLike 'PrefectWin.InvalidArgument,*'
        @($stackErrors)[0].Exception.Message | Should -BeLike '*API URL*'
        @($stackErrors)[0].ErrorDetails.RecommendedAction | Should -BeLike '*-ApiUrl*'
        Test-Path -LiteralPath $script:services | Should -BeFalse
    }

    It 'installs a real server and worker behind auth, green, and a second run changes nothing' {
        $venv = Split-Path -Path (Split-Path -Path $script:python -Parent) -Parent
        $arguments = @{ VenvPath = $venv; PrefectHome = $script:stackHome; Port = (Get-TestFreePort); AuthCredential = $script:auth; Pool = 'pester-stack'; TimeoutSec = 180 }
        $first = Install-PrefectStack @arguments -Confirm:$false
        $first.PSObject.TypeNames[0] | Should -BeExactly 'PrefectWin.StackResult'
        $first.WhatIf | Should -BeFalse
        @($first.Actions | ForEach-Object -Process { $_.kind }) | Should -Not -Contain 'create-venv'
        $first.Green | Should -BeTrue -Because ($first.Problems -join '; ')
        @($first.Services | ForEach-Object -Process { '{0}:{1}' -f $_.name, $_.health }) -join ' ' | Should -BeExactly 'PrefectServer:Healthy PrefectWorker:Healthy'
        @($first.Phases | Where-Object -FilterScript { $_.name -eq 'health' })[0].seconds | Should -BeGreaterThan 0
        $first.Healthy | Should -BeTrue
        ($first | Format-Table | Out-String) | Should -BeLike '*PrefectWorker: Healthy*'

        $second = Install-PrefectStack @arguments -Confirm:$false
        @($second.Actions).Count | Should -Be 0
        $second.Changed | Should -BeFalse
        $second.Green | Should -BeTrue
        @($second.Diagnosis).Count | Should -BeGreaterThan 0
    }
}
