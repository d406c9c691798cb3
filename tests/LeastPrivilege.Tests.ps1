#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.3.0' }
<#
    Install-PrefectService's least-privilege surface under real pwsh: the real module, the real
    bridge and the real backend, whose system adapter is the stateful fake
    (tests/fakes/fake_service_backend.py), because only Windows has a Service Control Manager.
    The service's interpreter is this test run's python (with Prefect) and its PREFECT_HOME a
    TestDrive folder, so the backend really probes it. What the administrator sees of -WhatIf
    (the host's "What if:" lines) is read from a child pwsh.
#>

BeforeAll {
    $moduleRoot = Split-Path -Path $PSScriptRoot -Parent
    $manifest = Join-Path -Path $moduleRoot -ChildPath 'PrefectWin.psd1'
    $prefectWin = Import-Module -Name $manifest -Force -PassThru
    $savedPython = $env:PREFECTWIN_PYTHON
    $savedMachine = $env:PREFECTWIN_FAKE_MACHINE
    $python = (& $prefectWin { Resolve-PrefectPython -Force }).Path
    . (Join-Path -Path $PSScriptRoot -ChildPath 'EndToEnd.Helpers.ps1')
    $launcher = New-TestFakeBackendLauncher -Python $python -Directory $TestDrive
    $machinePath = Join-Path -Path $TestDrive -ChildPath 'machine.json'
    Set-Content -LiteralPath $machinePath -Value '{"services": [], "accounts": {}}' -Encoding UTF8
    $prefectHome = Join-Path -Path $TestDrive -ChildPath 'prefect-home'
    $env:PREFECTWIN_FAKE_MACHINE = $machinePath
    $env:PREFECTWIN_PYTHON = $launcher
    & $prefectWin { $script:PrefectWinBackendPython = $null }

    # A port nothing listens on, so the backend's own port check passes.
    $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    $listener.Start()
    $port = ([System.Net.IPEndPoint]$listener.LocalEndpoint).Port
    $listener.Stop()

    function Get-WhatIfText {
        param([string] $Arguments)
        # pwsh installed as a .NET tool runs inside 'dotnet', so the current process is not
        # it: the PowerShell on PATH is (CI puts the pinned one there).
        $pwsh = if ($PSVersionTable.PSEdition -eq 'Desktop') { Join-Path -Path $PSHOME -ChildPath 'powershell.exe' } else { @(Get-Command -Name 'pwsh' -CommandType Application)[0].Source }
        $script = "Import-Module -Name '$manifest'; Install-PrefectService $Arguments -WhatIf | Out-Null"
        @(& $pwsh -NoProfile -NonInteractive -Command $script 2>&1) -join "`n"
    }
}

AfterAll {
    $env:PREFECTWIN_PYTHON = $savedPython
    $env:PREFECTWIN_FAKE_MACHINE = $savedMachine
    & $prefectWin { $script:PrefectWinBackendPython = $null }
}

Describe 'Install-PrefectService least privilege' {
    It '-WhatIf shows the virtual account, every grant and the scope of the firewall rule' {
        $shown = Get-WhatIfText -Arguments "-Name PrefectLpServer -Role Server -PrefectHome '$prefectHome' -BindAddress 0.0.0.0 -AllowAnonymous -Port $port -OpenFirewall -AllowFrom '10.20.0.0/16', '192.168.5.10'"
        $shown | Should -BeLike '*What if: Performing the operation "Run service ''PrefectLpServer'' as NT SERVICE\PrefectLpServer"*'
        $shown | Should -BeLike "*Grant NT SERVICE\PrefectLpServer Modify rights on '$prefectHome'*"
        $shown | Should -BeLike '*Grant NT SERVICE\PrefectLpServer read and execute rights on*'
        $shown | Should -BeLike "*allowing TCP $port from 10.20.0.0/16, 192.168.5.10 on the Domain, Private profiles*"
        $shown | Should -Not -BeLike '*Public*'
    }

    It 'defaults the rule to the local subnet, and -FirewallProfile Public adds the Public profile' {
        $shown = Get-WhatIfText -Arguments "-Name PrefectLpServer -Role Server -PrefectHome '$prefectHome' -BindAddress 0.0.0.0 -AllowAnonymous -Port $port -OpenFirewall -FirewallProfile Private, Public"
        $shown | Should -BeLike "*allowing TCP $port from LocalSubnet on the Private, Public profiles*"
    }

    It 'runs as LocalSystem only when asked for' {
        $shown = Get-WhatIfText -Arguments "-Name PrefectLpServer -Role Server -PrefectHome '$prefectHome' -Port $port -Account LocalSystem"
        $shown | Should -BeLike '*Install service ''PrefectLpServer'' that runs * through NSSM as LocalSystem*'
        $shown | Should -BeLike '*Grant NT AUTHORITY\SYSTEM Modify rights on*'
    }

    It 'answers a bad -AllowFrom with a structured error naming the parameter, before anything is planned' {
        $output = @(Install-PrefectService -Name PrefectLpServer -Role Server -PrefectHome $prefectHome -Port $port -OpenFirewall -AllowFrom 'server01' -WhatIf -ErrorAction SilentlyContinue -ErrorVariable installErrors)
        $output.Count | Should -Be 0
        @($installErrors).Count | Should -Be 1
        $problem = @($installErrors)[0]
        [string]$problem.FullyQualifiedErrorId | Should -BeExactly 'PrefectWin.InvalidArgument,Install-PrefectService'
        $problem.TargetObject | Should -BeExactly 'AllowFrom'
        $problem.ErrorDetails.Message | Should -BeLike "*-AllowFrom 'server01'*"
        $problem.ErrorDetails.RecommendedAction | Should -BeLike '*LocalSubnet*'
    }

    It 'refuses -AllowFrom without -OpenFirewall, naming the parameter' {
        $null = Install-PrefectService -Name PrefectLpServer -Role Server -PrefectHome $prefectHome -Port $port -AllowFrom '10.0.0.0/24' -WhatIf -ErrorAction SilentlyContinue -ErrorVariable scopeErrors
        @($scopeErrors)[0].TargetObject | Should -BeExactly 'AllowFrom'
        @($scopeErrors)[0].ErrorDetails.Message | Should -BeLike '*-OpenFirewall*'
    }

    It 'answers an unknown -FirewallProfile with a structured error naming the parameter' {
        # The backend holds the rule (no ValidateSet here can drift from it), and takes any case.
        $null = Install-PrefectService -Name PrefectLpServer -Role Server -PrefectHome $prefectHome -Port $port -OpenFirewall -FirewallProfile 'Home' -WhatIf -ErrorAction SilentlyContinue -ErrorVariable profileErrors
        @($profileErrors)[0].TargetObject | Should -BeExactly 'FirewallProfile'
        [string]@($profileErrors)[0].FullyQualifiedErrorId | Should -BeExactly 'PrefectWin.InvalidArgument,Install-PrefectService'
        @($profileErrors)[0].ErrorDetails.RecommendedAction | Should -BeLike '*Domain, Private and/or Public*'
    }
}
