#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.3.0' }
<#
    Secret settings stay masked in everything PowerShell shows: the real module, the real
    backend and a real Prefect 3.9.1 target (tests/target_venvs.py builds it), no mocks.
    Every setting that the target's release holds as a secret (Get-PrefectSetting's IsSecret,
    from the agent) gets a canary value; Set-PrefectSetting then runs with -WhatIf, applied to
    a profile, applied in -Scope Process and in a failing apply, each with -Verbose -Debug and
    every stream merged (*>&1), inside a transcript that catches the ShouldProcess (What if:)
    lines the host writes. Install-PrefectService -Environment with them all is tried too (this
    OS refuses it: the error path). No canary may show anywhere, and each value must still
    reach where it was sent. The per-release enumeration through the protocol is
    tests/test_secret_masking.py.
#>

BeforeDiscovery {
    $onWindows = [System.Environment]::OSVersion.Platform -eq [System.PlatformID]::Win32NT
}

Describe 'Secret settings through the real module and a real Prefect target' -Skip:$onWindows -Tag 'Posix' {
    BeforeAll {
        $moduleRoot = Split-Path -Path $PSScriptRoot -Parent
        $prefectWin = Import-Module -Name (Join-Path -Path $moduleRoot -ChildPath 'PrefectWin.psd1') -Force -PassThru
        . (Join-Path -Path $PSScriptRoot -ChildPath 'EndToEnd.Helpers.ps1')
        $backend = Get-TestBackendPython -Module $prefectWin
        $finder = "import sys; sys.path.insert(0, sys.argv[1]); from target_venvs import target_python; print(target_python('3.9.1'))"
        $script:target = (& $backend -c $finder $PSScriptRoot | Select-Object -Last 1).Trim()
        $script:root = Join-Path -Path ([System.IO.Path]::GetTempPath()) -ChildPath ('prefectwin-secrets-' + [guid]::NewGuid().ToString('N'))
        $null = New-Item -Path $script:root -ItemType Directory
        $script:savedEnvironment = @{}
        foreach ($name in 'PREFECT_HOME', 'PREFECT_PROFILES_PATH', 'PREFECTWIN_DATA_DIR') {
            $script:savedEnvironment[$name] = [System.Environment]::GetEnvironmentVariable($name)
        }
        $env:PREFECT_HOME = Join-Path -Path $script:root -ChildPath 'home'
        $env:PREFECTWIN_DATA_DIR = Join-Path -Path $script:root -ChildPath 'data'
        $null = New-Item -Path $env:PREFECT_HOME -ItemType Directory
        $script:profilesPath = Join-Path -Path $env:PREFECT_HOME -ChildPath 'profiles.toml'
        $env:PREFECT_PROFILES_PATH = $script:profilesPath

        $script:secretNames = @(Get-PrefectSetting -Name 'PREFECT_*' -PythonPath $script:target |
                Where-Object { $_.IsSecret } | ForEach-Object { $_.Name })
        $script:canaries = [ordered]@{}
        $index = 0
        foreach ($name in $script:secretNames) {
            $script:canaries[$name] = 'PwshCanary{0:d2}Vq' -f $index
            $index++
        }

        function Invoke-Captured {
            # Every stream of the block, merged, plus what the host wrote (What if: lines) as
            # the transcript saw it.
            param([scriptblock] $Block)
            $transcript = Join-Path -Path $script:root -ChildPath ('transcript-' + [guid]::NewGuid().ToString('N') + '.txt')
            $null = Start-Transcript -Path $transcript
            try {
                $streams = & $Block *>&1 | Out-String -Width 4096
            }
            finally {
                $null = Stop-Transcript
            }
            $streams + "`n" + (Get-Content -Path $transcript -Raw)
        }

        function Get-Leak {
            param([string] $Text)
            @($script:canaries.Keys | Where-Object { $Text.Contains($script:canaries[$_]) })
        }
    }

    AfterAll {
        foreach ($name in $script:savedEnvironment.Keys) {
            [System.Environment]::SetEnvironmentVariable($name, $script:savedEnvironment[$name])
        }
        foreach ($name in $script:secretNames) {
            Remove-Item -Path "Env:$name" -ErrorAction SilentlyContinue
        }
        Remove-Item -Path $script:root -Recurse -Force -ErrorAction SilentlyContinue
    }

    It 'finds the release''s secret settings, the auth strings among them' {
        $script:secretNames | Should -Contain 'PREFECT_API_AUTH_STRING'
        $script:secretNames | Should -Contain 'PREFECT_SERVER_API_AUTH_STRING'
        $script:secretNames | Should -Contain 'PREFECT_API_KEY'
    }

    It 'shows no canary in -WhatIf plans, ShouldProcess text, verbose, debug or output' {
        foreach ($name in $script:secretNames) {
            $value = $script:canaries[$name]
            $text = Invoke-Captured {
                Set-PrefectSetting -Name $name -Value $value -PythonPath $script:target -WhatIf -Verbose -Debug
            }
            $text | Should -Match 'What if:'
            $text | Should -Match ([regex]::Escape('********'))
            Get-Leak -Text $text | Should -BeNullOrEmpty
        }
    }

    It 'shows no canary when applying to a profile, and the profile holds the value' {
        foreach ($name in $script:secretNames) {
            $value = $script:canaries[$name]
            $text = Invoke-Captured {
                Set-PrefectSetting -Name $name -Value $value -PythonPath $script:target -Confirm:$false -Verbose -Debug
                Get-PrefectSetting -Name $name -PythonPath $script:target -Verbose -Debug | Format-List *
            }
            Get-Leak -Text $text | Should -BeNullOrEmpty
        }
        $profiles = Get-Content -Path $script:profilesPath -Raw
        foreach ($name in $script:secretNames) {
            $profiles | Should -Match ([regex]::Escape($script:canaries[$name]))
        }
    }

    It 'sets -Scope Process values in the session without showing them' {
        foreach ($name in $script:secretNames) {
            $value = $script:canaries[$name]
            $text = Invoke-Captured {
                Set-PrefectSetting -Name $name -Value $value -Scope Process -PythonPath $script:target -Confirm:$false -Verbose -Debug | Format-List *
            }
            Get-Leak -Text $text | Should -BeNullOrEmpty
            [System.Environment]::GetEnvironmentVariable($name) | Should -BeExactly $value
        }
    }

    It 'shows no canary in the error of a failing apply' {
        $blocked = Join-Path -Path $script:root -ChildPath 'a-file'
        Set-Content -Path $blocked -Value 'not a folder'
        $env:PREFECT_PROFILES_PATH = Join-Path -Path $blocked -ChildPath 'profiles.toml'
        try {
            foreach ($name in $script:secretNames) {
                $value = $script:canaries[$name]
                $text = Invoke-Captured {
                    Set-PrefectSetting -Name $name -Value $value -PythonPath $script:target -Confirm:$false -Verbose -Debug -ErrorAction Continue
                }
                $Error[0].FullyQualifiedErrorId | Should -BeLike 'PrefectWin.*'
                Get-Leak -Text $text | Should -BeNullOrEmpty
            }
        }
        finally {
            $env:PREFECT_PROFILES_PATH = $script:profilesPath
        }
    }

    It 'shows no canary when a service is planned with them in -Environment' {
        # The auth strings are not -Environment's to set (-AuthCredential makes them): the
        # server's canary goes in as the credential's password instead.
        $environment = @{}
        foreach ($name in $script:secretNames) {
            if ($name -notlike '*DATABASE*' -and $name -notlike '*AUTH_STRING') {
                $environment[$name] = $script:canaries[$name]
            }
        }
        $password = ConvertTo-SecureString -String $script:canaries['PREFECT_SERVER_API_AUTH_STRING'] -AsPlainText -Force
        $credential = New-Object -TypeName System.Management.Automation.PSCredential -ArgumentList @('admin', $password)
        # Secrets that are not Prefect settings: by name, by URL credentials, and marked (a SecureString).
        $environment['AWS_SECRET_ACCESS_KEY'] = 'CanaryAwsKey7Qz'
        $environment['HTTPS_PROXY'] = 'http://svc:CanaryProxy7Qz@proxy.example.com:8080'
        $marked = @{ REPORTS_BUCKET_LINK = (ConvertTo-SecureString -String 'CanaryMarked7Qz' -AsPlainText -Force) }
        $text = Invoke-Captured {
            Install-PrefectService -Name PrefectServer -Role Server -PrefectHome $env:PREFECT_HOME -Port 4792 -PythonPath $script:target -Environment $environment -SecretEnvironment $marked -AuthCredential $credential -WhatIf -Verbose -Debug -ErrorAction Continue
        }
        $Error[0].FullyQualifiedErrorId | Should -BeLike 'PrefectWin.NotSupported*'
        Get-Leak -Text $text | Should -BeNullOrEmpty
        foreach ($canary in 'CanaryAwsKey7Qz', 'CanaryProxy7Qz', 'CanaryMarked7Qz') {
            $text | Should -Not -Match $canary
        }
    }
}
