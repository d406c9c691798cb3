#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.3.0' }
# The DSC resource classes as a configuration script gets them: through 'using module', not
# through the module's own scope. Relative to this file, whatever the current directory.
using module ..\PrefectWin.psd1
<#
    The DSC resources for real: Get, Test, Set and Export of PrefectSetting at Profile scope
    (keyed by Name and Scope) against the real backend's dsc.* commands, with Prefect's own 'prefect config view' as the oracle, and
    PrefectService, which is NotSupported off Windows. No mocks, no Prefect server. Compiling a
    configuration to a MOF needs Windows PowerShell's PSDesiredStateConfiguration, and the LCM
    that would apply it is Windows only: tests/PrefectWin.Tests.ps1 compiles the sample there.

    Where a backend interpreter is missing the file is skipped, except in CI (CI=true), where
    that is a failure.
#>

BeforeDiscovery {
    $onWindows = [System.Environment]::OSVersion.Platform -eq [System.PlatformID]::Win32NT
    $discovered = Get-Module -Name 'PrefectWin' | Select-Object -First 1
    $backendFound = $true
    try {
        $null = & $discovered { Resolve-PrefectPython -Force }
    } catch {
        $backendFound = $false
    }
    $skipRealBackend = -not ($backendFound -or $env:CI -eq 'true')
}

Describe 'PrefectWin DSC resources against the real backend' -Skip:$skipRealBackend {
    BeforeAll {
        . (Join-Path -Path $PSScriptRoot -ChildPath 'EndToEnd.Helpers.ps1')
        # The module instance 'using module' loaded: the one the classes belong to.
        $prefectWin = Get-Module -Name 'PrefectWin' | Where-Object -FilterScript { $null -ne $_.ExportedDscResources } | Select-Object -First 1
        $python = Get-TestBackendPython -Module $prefectWin
        $fileEnvironment = Save-TestEnvironment

        function New-TestSetting {
            param([string] $Ensure = 'Present', [string] $Value = 'http://127.0.0.1:4250/api')
            $resource = [PrefectSetting]::new()
            $resource.Name = 'PREFECT_API_URL'
            $resource.Scope = 'Profile'
            $resource.Ensure = $Ensure
            if ($Ensure -eq 'Present') {
                $resource.Value = $Value
            }
            $resource
        }
    }

    AfterAll {
        Restore-TestEnvironment -Saved $fileEnvironment
    }

    BeforeEach {
        $testEnvironment = Save-TestEnvironment
        $null = Set-TestPrefectHome -Path (Join-Path -Path $TestDrive -ChildPath ('home-' + [guid]::NewGuid().ToString('N')))
    }

    AfterEach {
        Restore-TestEnvironment -Saved $testEnvironment
    }

    It 'loads both resource classes with using module' {
        foreach ($type in @([PrefectSetting], [PrefectService])) {
            @($type.GetCustomAttributes([System.Management.Automation.DscResourceAttribute], $false)).Count | Should -Be 1 -Because "$($type.Name) is a DSC resource"
        }
        [PrefectSetting]::new().Ensure | Should -Be ([PrefectEnsure]::Present)
    }

    It 'PrefectSetting at Profile scope: Get, Test, Set and Export agree with prefect config view' {
        $desired = New-TestSetting
        $before = $desired.Get()
        $before.Ensure | Should -Be ([PrefectEnsure]::Absent)
        $before.Source | Should -BeExactly 'default'
        $desired.Test() | Should -BeFalse

        $desired.Set()
        $oracle = Get-TestPrefectConfig -Python $python
        $oracle['PREFECT_API_URL'].Value | Should -BeExactly 'http://127.0.0.1:4250/api'
        $oracle['PREFECT_API_URL'].Source | Should -BeExactly 'profile'

        $desired.Test() | Should -BeTrue -Because 'Set brought it to the desired state'
        $now = $desired.Get()
        $now.GetType().Name | Should -BeExactly 'PrefectSetting'
        $now.Ensure | Should -Be ([PrefectEnsure]::Present)
        $now.Value | Should -BeExactly 'http://127.0.0.1:4250/api'
        $now.Scope | Should -BeExactly 'Profile'
        $now.Source | Should -BeExactly ('profile:{0}' -f $oracle['PREFECT_PROFILE'].Value)

        # Every setting a scope holds: off Windows that is the active profile's settings only.
        $exported = @([PrefectSetting]::Export())
        $exported | ForEach-Object -Process { $_.GetType().Name | Should -BeExactly 'PrefectSetting' }
        @($exported | Where-Object -FilterScript { $_.Scope -ne 'Profile' }).Count | Should -Be 0
        $names = @($exported | ForEach-Object -Process { $_.Name } | Sort-Object)
        $inProfile = @($oracle.Keys | Where-Object -FilterScript { $oracle[$_].Source -eq 'profile' } | Sort-Object)
        ($names -join ',') | Should -BeExactly ($inProfile -join ',')
        @($exported | Where-Object -FilterScript { $_.Name -eq 'PREFECT_API_URL' })[0].Value | Should -BeExactly 'http://127.0.0.1:4250/api'

        $absent = New-TestSetting -Ensure 'Absent'
        $absent.Test() | Should -BeFalse
        $absent.Set()
        (Get-TestPrefectConfig -Python $python).ContainsKey('PREFECT_API_URL') | Should -BeFalse
        $absent.Test() | Should -BeTrue
        $desired.Test() | Should -BeFalse
    }

    It 'PrefectSetting.Set() throws the backend''s refusal of a bad value and writes nothing' {
        $bad = New-TestSetting -Value 'not a url'
        $bad.Name = 'PREFECT_SERVER_API_PORT'
        $thrown = { $bad.Set() } | Should -Throw -PassThru
        [string]$thrown.FullyQualifiedErrorId | Should -BeLike 'PrefectWin.InvalidArgument,*'
        Test-Path -LiteralPath $env:PREFECT_PROFILES_PATH | Should -BeFalse
    }

    It 'PrefectSetting is keyed by Name and Scope: the Profile instance is not the User one' {
        $profileSetting = New-TestSetting
        $profileSetting.Set()
        $profileSetting.Get().Value | Should -BeExactly 'http://127.0.0.1:4250/api'
        $process = New-TestSetting
        $process.Scope = 'Process'
        $thrown = { $process.Test() } | Should -Throw -PassThru
        [string]$thrown.FullyQualifiedErrorId | Should -BeLike 'PrefectWin.InvalidArgument,*'
        $thrown.Exception.Message | Should -BeLike '*Scope Process would change only the environment of the DSC host process*'
        $thrown.TargetObject | Should -BeExactly 'properties.scope'
    }

    It 'PrefectSetting at User scope is a Windows environment variable: NotSupported here, nothing written' -Skip:$onWindows {
        $user = New-TestSetting
        $user.Scope = 'User'
        $thrown = { $user.Set() } | Should -Throw -PassThru
        [string]$thrown.FullyQualifiedErrorId | Should -BeLike 'PrefectWin.NotSupported,*'
        Test-Path -LiteralPath $env:PREFECT_PROFILES_PATH | Should -BeFalse
    }

    # On Windows these run against the service control manager, which only Windows has.
    It 'PrefectService.<Method>() is PrefectWin.NotSupported off Windows and changes nothing' -Skip:$onWindows -ForEach @(
        @{ Method = 'Get' }
        @{ Method = 'Test' }
        @{ Method = 'Set' }
        @{ Method = 'Export' }
    ) {
        $resource = [PrefectService]::new()
        $resource.Name = 'PrefectE2E'
        $resource.Role = 'Server'
        $resource.PrefectHome = Join-Path -Path $TestDrive -ChildPath 'service-home'
        $call = switch ($Method) {
            'Get' { { $resource.Get() } }
            'Test' { { $resource.Test() } }
            'Set' { { $resource.Set() } }
            'Export' { { [PrefectService]::Export() } }
        }
        $thrown = $call | Should -Throw -PassThru
        [string]$thrown.FullyQualifiedErrorId | Should -BeLike 'PrefectWin.NotSupported,*'
        $thrown.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::NotImplemented)
        $thrown.Exception.Message | Should -BeLike '*only on Windows*'
        Test-Path -LiteralPath $resource.PrefectHome | Should -BeFalse
    }
}
