#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.3.0' }
<#
    The module's backend for real: the real 'python -m prefectwin serve', started on first use,
    serving many calls from one process, ended by Stop-PrefectSession, Remove-Module and the
    exit (or kill) of its PowerShell, killed for real during a call, started from an interpreter
    that is no backend, and compared with the per-call mode ($env:PREFECTWIN_BACKEND = 'PerCall',
    a fresh process per call). No mocks and no Prefect server. The fake session backend
    (tests/fakes/serve_fake.py) is exercised in tests/PrefectWin.Tests.ps1.

    Where a backend interpreter is missing the file is skipped, except in CI (CI=true), where
    that is a failure.
#>

BeforeDiscovery {
    $discovered = Import-Module -Name (Join-Path -Path (Split-Path -Path $PSScriptRoot -Parent) -ChildPath 'PrefectWin.psd1') -Force -PassThru
    $backendFound = $true
    try {
        $null = & $discovered { Resolve-PrefectPython -Force }
    } catch {
        $backendFound = $false
    }
    $skipRealBackend = -not ($backendFound -or $env:CI -eq 'true')
}

Describe 'PrefectWin sessions against the real backend' -Skip:$skipRealBackend {
    BeforeAll {
        $moduleRoot = Split-Path -Path $PSScriptRoot -Parent
        $manifest = Join-Path -Path $moduleRoot -ChildPath 'PrefectWin.psd1'
        $prefectWin = Import-Module -Name $manifest -Force -PassThru
        . (Join-Path -Path $PSScriptRoot -ChildPath 'EndToEnd.Helpers.ps1')
        $python = Get-TestBackendPython -Module $prefectWin
        $onWindows = [System.Environment]::OSVersion.Platform -eq [System.PlatformID]::Win32NT
        $fileEnvironment = Save-TestEnvironment
        $null = Set-TestPrefectHome -Path (Join-Path -Path $TestDrive -ChildPath 'prefect-home')

        function ConvertTo-TestJson {
            # What the caller gets, as text that two answers can be compared by.
            param([object[]] $InputObject)
            ConvertTo-Json -InputObject @($InputObject | ForEach-Object -Process { $_.PSObject.TypeNames[0]; $_ }) -Depth 10 -Compress
        }

        function Invoke-TestCalls {
            # The same few calls, with and without a session.
            @(Get-PrefectSetting -Name 'PREFECT_HOME', 'PREFECT_SERVER_API_PORT', 'PREFECT_API_URL')
            @(Test-PrefectEnvironment -Check 'python.found', 'settings.home', 'settings.api-url', 'encoding')
        }

        function New-TestNotABackend {
            # An interpreter that starts but is no PrefectWin backend: it says so on stderr and
            # exits 1, as a python without the prefectwin package does.
            param([string] $Folder)
            if ($onWindows) {
                $path = Join-Path -Path $Folder -ChildPath 'not-a-backend.cmd'
                Set-Content -LiteralPath $path -Value @('@echo off', 'echo No module named prefectwin 1>&2', 'exit /b 1') -Encoding Ascii
            } else {
                $path = Join-Path -Path $Folder -ChildPath 'not-a-backend.sh'
                Set-Content -LiteralPath $path -Value @('#!/bin/sh', 'echo "No module named prefectwin" >&2', 'exit 1') -Encoding Ascii
                & chmod +x $path
            }
            $path
        }

        function Get-TestDescendantProcessId {
            # This process's children and theirs (a backend and its target probes).
            param([int] $ProcessId)
            foreach ($child in @(Get-TestChildProcessId -ProcessId $ProcessId)) {
                $child
                Get-TestDescendantProcessId -ProcessId $child
            }
        }
    }

    AfterAll {
        $null = Stop-PrefectSession
        Restore-TestEnvironment -Saved $fileEnvironment
        & $prefectWin { $script:PrefectWinBackendPython = $null }
    }

    BeforeEach {
        # As in a new PowerShell: the module resolves its interpreter on first use.
        & $prefectWin { $script:PrefectWinBackendPython = $null }
        $testEnvironment = Save-TestEnvironment
        $before = @(Get-TestDescendantProcessId -ProcessId $PID | Sort-Object)
    }

    AfterEach {
        $null = Stop-PrefectSession
        Restore-TestEnvironment -Saved $testEnvironment
        & $prefectWin { $script:PrefectWinBackendPython = $null }
    }

    It 'starts on first use and serves many calls from one process, seeing $env: changes at once, with the per-call answers' {
        $null = Stop-PrefectSession
        $env:PREFECTWIN_BACKEND = 'PerCall'
        $perCall = ConvertTo-TestJson -InputObject (Invoke-TestCalls)
        Get-PrefectSession | Should -BeNullOrEmpty -Because 'per call, no backend is kept'
        $env:PREFECT_SERVER_API_PORT = '4399'
        $env:PREFECT_API_URL = 'http://127.0.0.1:4399/api'
        $perCallChanged = ConvertTo-TestJson -InputObject (Invoke-TestCalls)
        Remove-Item -Path 'env:PREFECT_SERVER_API_PORT', 'env:PREFECT_API_URL'
        Remove-Item -Path 'env:PREFECTWIN_BACKEND'
        (@(Get-TestDescendantProcessId -ProcessId $PID | Sort-Object) -join ',') | Should -BeExactly ($before -join ',') -Because 'each per-call backend ended with its call'

        (ConvertTo-TestJson -InputObject (Invoke-TestCalls)) | Should -BeExactly $perCall
        $first = Get-PrefectSession
        $first.Status | Should -BeExactly 'Running'
        # The caller changes its environment while the backend runs, then takes it back.
        $env:PREFECT_SERVER_API_PORT = '4399'
        $env:PREFECT_API_URL = 'http://127.0.0.1:4399/api'
        $changed = ConvertTo-TestJson -InputObject (Invoke-TestCalls)
        Remove-Item -Path 'env:PREFECT_SERVER_API_PORT', 'env:PREFECT_API_URL'
        $restored = ConvertTo-TestJson -InputObject (Invoke-TestCalls)
        $last = Get-PrefectSession

        $changed | Should -BeExactly $perCallChanged -Because 'a session answers what a fresh process answers'
        $changed | Should -BeLike '*env:PREFECT_SERVER_API_PORT*'
        $restored | Should -BeExactly $perCall -Because 'a removed variable is gone for the backend at once'
        $last.ProcessId | Should -Be $first.ProcessId
        $last.Starts | Should -Be $first.Starts -Because 'no environment change needs a new backend'
        $last.Requests | Should -Be 6 -Because 'three times two calls'
    }

    It 'ends its backend with Remove-Module, and with the exit of its PowerShell' {
        $child = [System.Management.Automation.PowerShell]::Create()
        try {
            $null = $child.AddScript("Import-Module -Name '$manifest'; `$null = Test-PrefectEnvironment -Check 'encoding'; (Get-PrefectSession).ProcessId; Remove-Module -Name 'PrefectWin'")
            $backendId = [int]@($child.Invoke())[0]
            $child.Streams.Error.Count | Should -Be 0
        } finally {
            $child.Dispose()
        }
        Get-Process -Id $backendId -ErrorAction SilentlyContinue | Should -BeNullOrEmpty -Because 'Remove-Module ended it'

        $pwsh = Join-Path -Path $PSHOME -ChildPath 'pwsh'
        $script = "Import-Module -Name '$manifest'; `$null = Test-PrefectEnvironment -Check 'encoding'; (Get-PrefectSession).ProcessId"
        $backendId = [int](@(& $pwsh -NoProfile -NonInteractive -Command $script)[-1])
        $LASTEXITCODE | Should -Be 0
        Wait-Process -Id $backendId -Timeout 30 -ErrorAction SilentlyContinue
        Get-Process -Id $backendId -ErrorAction SilentlyContinue | Should -BeNullOrEmpty -Because 'the backend ends with its PowerShell'
    }

    It 'leaves no orphan when its PowerShell is killed' {
        $start = New-Object -TypeName System.Diagnostics.ProcessStartInfo -ArgumentList (Join-Path -Path $PSHOME -ChildPath 'pwsh')
        $script = "Import-Module -Name '$manifest'; `$null = Test-PrefectEnvironment -Check 'encoding'; (Get-PrefectSession).ProcessId; Start-Sleep -Seconds 120"
        $start.Arguments = '-NoProfile -NonInteractive -EncodedCommand ' + [System.Convert]::ToBase64String([System.Text.Encoding]::Unicode.GetBytes($script))
        $start.UseShellExecute = $false
        $start.RedirectStandardOutput = $true
        $shell = [System.Diagnostics.Process]::Start($start)
        try {
            $backendId = [int]$shell.StandardOutput.ReadLine()
            Get-Process -Id $backendId | Should -Not -BeNullOrEmpty
            $shell.Kill()
            $shell.WaitForExit()
            Wait-Process -Id $backendId -Timeout 30 -ErrorAction SilentlyContinue
            Get-Process -Id $backendId -ErrorAction SilentlyContinue | Should -BeNullOrEmpty -Because 'the backend ends when its PowerShell is gone'
        } finally {
            if (-not $shell.HasExited) {
                $shell.Kill()
            }
            $shell.Dispose()
        }
    }

    It 'fails a call whose backend is killed during it with PrefectWin.SessionLost; the next call starts a new one' {
        # The call runs in a PowerShell of its own, so this one can kill its backend meanwhile.
        $child = [System.Management.Automation.PowerShell]::Create()
        try {
            $null = $child.AddScript("Import-Module -Name '$manifest'; (Start-PrefectSession -PassThru).ProcessId")
            $backendId = [int]@($child.Invoke())[0]
            $child.Commands.Clear()
            $null = $child.AddScript("Test-PrefectEnvironment -Check 'python.found'")
            $pending = $child.BeginInvoke()
            # In flight for sure: the backend has started its probe of the target interpreter.
            $deadline = [System.DateTime]::UtcNow.AddSeconds(60)
            $probes = @()
            while ($probes.Count -eq 0 -and -not $pending.IsCompleted -and [System.DateTime]::UtcNow -lt $deadline) {
                $probes = @(Get-TestChildProcessId -ProcessId $backendId)
                Start-Sleep -Milliseconds 20
            }
            $probes.Count | Should -BeGreaterThan 0 -Because 'the backend was killed while it served the call'
            Stop-Process -Id $backendId -Force
            $caught = $null
            try {
                $null = $child.EndInvoke($pending)
            } catch {
                $caught = $_
            }
            foreach ($probe in $probes) {
                Stop-Process -Id $probe -Force -ErrorAction SilentlyContinue
            }
            $lost = @($child.Streams.Error) + @($caught.Exception.InnerException.ErrorRecord | Where-Object -FilterScript { $null -ne $_ })
            $lost.Count | Should -BeGreaterThan 0
            [string]$lost[-1].FullyQualifiedErrorId | Should -BeExactly 'PrefectWin.SessionLost,Test-PrefectEnvironment'
            $lost[-1].CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::ResourceUnavailable)
            $lost[-1].Exception.Message | Should -BeLike "*process $backendId*environment.test*"

            $child.Commands.Clear()
            $child.Streams.Error.Clear()
            $null = $child.AddScript("@(Test-PrefectEnvironment -Check 'encoding').Count; Get-PrefectSession")
            $next = @($child.Invoke())
            $child.Streams.Error.Count | Should -Be 0
            $next[0] | Should -Be 1
            $next[1].Starts | Should -Be 2
            $next[1].ProcessId | Should -Not -Be $backendId
            $child.Commands.Clear()
            $null = $child.AddScript('Stop-PrefectSession')
            $null = $child.Invoke()
        } finally {
            $child.Dispose()
        }
    }

    It 'leaves no session after a failed start, and a corrected start works' {
        $broken = New-TestNotABackend -Folder $TestDrive
        $env:PREFECTWIN_PYTHON = $broken
        $thrown = { Start-PrefectSession } | Should -Throw -ErrorId 'PrefectWin.BridgeFailed,Start-PrefectSession' -PassThru
        $thrown.Exception.Message | Should -BeLike '*No module named prefectwin*'
        Get-PrefectSession | Should -BeNullOrEmpty
        (@(Get-TestDescendantProcessId -ProcessId $PID | Sort-Object) -join ',') | Should -BeExactly ($before -join ',')
        # The administrator corrects PREFECTWIN_PYTHON and tries again in the same PowerShell.
        $env:PREFECTWIN_PYTHON = $python
        $opened = Start-PrefectSession -PassThru
        $opened.Status | Should -BeExactly 'Running'
        $opened.PythonPath | Should -BeExactly $python
        @(Test-PrefectEnvironment -Check 'encoding').Count | Should -Be 1
    }

    It 'ends with Stop-PrefectSession, leaving no process behind' {
        $opened = Start-PrefectSession -PassThru
        $null = Test-PrefectEnvironment -Check 'python.found'
        @(Get-TestDescendantProcessId -ProcessId $PID) | Should -Contain $opened.ProcessId
        $closed = Stop-PrefectSession -PassThru
        $closed.Status | Should -BeExactly 'Closed'
        Get-Process -Id $opened.ProcessId -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        (@(Get-TestDescendantProcessId -ProcessId $PID | Sort-Object) -join ',') | Should -BeExactly ($before -join ',')
    }
}
