<#
    Helpers of the Pester files (EndToEnd, Session, Dsc, Operate, ServiceDiagnosis,
    LeastPrivilege, Fleet and PrefectWin.Tests.ps1), dot-sourced
    in their BeforeAll. Nothing here is mocked: the real module, the real backend interpreter
    and, where a file asks for one, a real 'prefect server start'. Prefect's own CLI
    ('prefect config view') is the oracle for settings.
#>

function Get-TestBackendPython {
    # The interpreter the module itself resolves (PREFECTWIN_PYTHON, then the module's .venv):
    # the one with prefectwin AND prefect, so it is the target interpreter as well.
    param([System.Management.Automation.PSModuleInfo] $Module)
    (& $Module { Resolve-PrefectPython -Force }).Path
}

function New-TestFakeBackendLauncher {
    # A launcher script that runs tests/fakes/fake_service_backend.py (the real backend over a
    # stateful fake adapter) with $Python, for PREFECTWIN_PYTHON: a .cmd on Windows, a shell
    # script elsewhere. Returns its path.
    param([string] $Python, [string] $Directory)
    $fakeBackend = Join-Path -Path (Join-Path -Path $PSScriptRoot -ChildPath 'fakes') -ChildPath 'fake_service_backend.py'
    if ([System.IO.Path]::DirectorySeparatorChar -eq '\') {
        $launcher = Join-Path -Path $Directory -ChildPath 'fake-backend.cmd'
        Set-Content -LiteralPath $launcher -Value @('@echo off', "`"$Python`" `"$fakeBackend`" %*") -Encoding Ascii
    } else {
        $launcher = Join-Path -Path $Directory -ChildPath 'fake-backend.sh'
        Set-Content -LiteralPath $launcher -Value @('#!/bin/sh', "exec '$Python' '$fakeBackend' `"`$@`"") -Encoding Ascii
        & chmod +x $launcher
    }
    $launcher
}

function Invoke-TestWithModuleOnPath {
    # Runs $ScriptBlock with a copy of the module in $Folder/PrefectWin first on PSModulePath:
    # Import-DscResource, as a MOF compile runs it, finds a module only there, in a folder named
    # like it. PSModulePath is put back afterwards.
    param([string] $ModuleRoot, [string] $Folder, [scriptblock] $ScriptBlock)
    $copy = Join-Path -Path $Folder -ChildPath 'PrefectWin'
    $null = New-Item -Path $copy -ItemType Directory -Force
    foreach ($item in @('PrefectWin.psd1', 'PrefectWin.psm1', 'PrefectWin.Format.ps1xml', 'Private', 'Public')) {
        Copy-Item -LiteralPath (Join-Path -Path $ModuleRoot -ChildPath $item) -Destination $copy -Recurse
    }
    $savedPath = $env:PSModulePath
    $env:PSModulePath = $Folder + [System.IO.Path]::PathSeparator + $env:PSModulePath
    try {
        & $ScriptBlock
    } finally {
        $env:PSModulePath = $savedPath
    }
}

function Get-TestFreePort {
    # A loopback port nothing listens on right now (the OS picks it).
    $listener = New-Object -TypeName System.Net.Sockets.TcpListener -ArgumentList @([System.Net.IPAddress]::Loopback, 0)
    $listener.Start()
    try {
        $listener.LocalEndpoint.Port
    } finally {
        $listener.Stop()
    }
}

function Save-TestEnvironment {
    # The process environment as it is, for Restore-TestEnvironment.
    $saved = @{}
    foreach ($entry in @([System.Environment]::GetEnvironmentVariables().GetEnumerator())) {
        $saved[[string]$entry.Key] = [string]$entry.Value
    }
    $saved
}

function Restore-TestEnvironment {
    # Puts back exactly the saved variables: removes new ones, resets changed ones.
    param([hashtable] $Saved)
    $current = [System.Environment]::GetEnvironmentVariables()
    foreach ($name in @($current.Keys)) {
        if (-not $Saved.ContainsKey([string]$name)) {
            Remove-TestVariable -Name ([string]$name)
        }
    }
    foreach ($name in @($Saved.Keys)) {
        if ([string]$current[$name] -cne $Saved[$name]) {
            [System.Environment]::SetEnvironmentVariable($name, $Saved[$name])
        }
    }
}

function Remove-TestVariable {
    # Not SetEnvironmentVariable(name, $null): PowerShell passes $null to a string parameter as
    # '', which .NET on Linux keeps as an empty variable.
    param([string] $Name)
    Remove-Item -LiteralPath "env:$Name" -ErrorAction SilentlyContinue
}

function Set-TestPrefectHome {
    # Points this process (and every child: the backend, the target probe, the prefect CLI) at
    # a fresh PREFECT_HOME, with analytics off and no PREFECT_* variable from the shell.
    param([string] $Path)
    foreach ($name in @([System.Environment]::GetEnvironmentVariables().Keys)) {
        if ([string]$name -like 'PREFECT_*') {
            Remove-TestVariable -Name ([string]$name)
        }
    }
    $null = New-Item -Path $Path -ItemType Directory -Force
    $env:PREFECT_HOME = $Path
    $env:PREFECT_PROFILES_PATH = Join-Path -Path $Path -ChildPath 'profiles.toml'
    $env:PREFECT_SERVER_ANALYTICS_ENABLED = 'false'
    $Path
}

function Get-TestPrefectConfig {
    # 'prefect config view --show-sources' of the target interpreter, as name -> {Value, Source}:
    # Prefect's own answer to what is set, and where from.
    param([string] $Python, [string[]] $Argument = @())
    $lines = @(& $Python -m prefect config view --show-sources @Argument 2>&1)
    if ($LASTEXITCODE -ne 0) {
        throw "prefect config view exited with $LASTEXITCODE`: $($lines -join [System.Environment]::NewLine)"
    }
    $settings = @{}
    foreach ($line in $lines) {
        if ([string]$line -match "^(PREFECT_[A-Z0-9_]+)='(.*)'(?: \(from (.+)\))?$") {
            $settings[$Matches[1]] = [PSCustomObject]@{ Value = $Matches[2]; Source = $Matches[3] }
        }
    }
    $settings
}

function Start-TestPrefectServer {
    # A real 'prefect server start' on a free loopback port with its own PREFECT_HOME, analytics
    # and UI off; returns once /api/health answers 200. Its output goes to files in its home.
    param([string] $Python, [string] $HomePath, [int] $TimeoutSec = 120)
    $null = New-Item -Path $HomePath -ItemType Directory -Force
    $port = Get-TestFreePort
    $saved = Save-TestEnvironment
    try {
        $null = Set-TestPrefectHome -Path $HomePath
        $env:PREFECT_UI_ENABLED = 'false'
        $arguments = @('-m', 'prefect', 'server', 'start', '--host', '127.0.0.1', '--port', [string]$port)
        $process = Start-Process -FilePath $Python -ArgumentList $arguments -WorkingDirectory $HomePath -PassThru `
            -RedirectStandardOutput (Join-Path -Path $HomePath -ChildPath 'server.out.log') `
            -RedirectStandardError (Join-Path -Path $HomePath -ChildPath 'server.err.log')
    } finally {
        Restore-TestEnvironment -Saved $saved
    }
    $server = [PSCustomObject]@{
        Process = $process
        Port = $port
        ApiUrl = "http://127.0.0.1:$port/api"
        HomePath = $HomePath
    }
    $deadline = [System.DateTime]::UtcNow.AddSeconds($TimeoutSec)
    while ($true) {
        if ($process.HasExited) {
            throw "prefect server start exited with $($process.ExitCode): $(Get-TestServerLog -Server $server)"
        }
        try {
            $answer = Invoke-WebRequest -Uri "$($server.ApiUrl)/health" -UseBasicParsing -TimeoutSec 2
            if ($answer.StatusCode -eq 200) {
                return $server
            }
        } catch {
            Write-Debug -Message "Not healthy yet: $($_.Exception.Message)"
        }
        if ([System.DateTime]::UtcNow -gt $deadline) {
            Stop-TestPrefectServer -Server $server
            throw "prefect server start on port $port was not healthy within $TimeoutSec s: $(Get-TestServerLog -Server $server)"
        }
        Start-Sleep -Milliseconds 250
    }
}

function Get-TestServerLog {
    param([object] $Server)
    $text = foreach ($name in @('server.out.log', 'server.err.log')) {
        $path = Join-Path -Path $Server.HomePath -ChildPath $name
        if (Test-Path -LiteralPath $path) {
            Get-Content -LiteralPath $path -Tail 20
        }
    }
    @($text) -join [System.Environment]::NewLine
}

function Stop-TestPrefectServer {
    # Ctrl-C, which Prefect's server handles gracefully; killed if it is still up after 15 s.
    # Windows has no SIGINT to send from here: there the server is killed (a throwaway one).
    param([object] $Server)
    $process = $Server.Process
    if ($null -eq $process -or $process.HasExited) {
        return
    }
    if ([System.Environment]::OSVersion.Platform -ne [System.PlatformID]::Win32NT) {
        & kill -s INT $process.Id
    }
    if (-not $process.WaitForExit(15000)) {
        $process.Kill()
        $null = $process.WaitForExit(5000)
    }
}

function Get-TestChildProcessId {
    # The ids of the direct children of a process. Linux lists them per thread
    # (/proc/<pid>/task/<tid>/children), and .NET and Python start processes from any thread.
    param([int] $ProcessId)
    $tasks = "/proc/$ProcessId/task"
    if (Test-Path -LiteralPath $tasks) {
        $ids = foreach ($task in @(Get-ChildItem -LiteralPath $tasks -Directory -ErrorAction SilentlyContinue)) {
            $children = Join-Path -Path $task.FullName -ChildPath 'children'
            $text = ''
            try {
                $text = [System.IO.File]::ReadAllText($children).Trim()
            } catch [System.IO.IOException] {
                # The thread ended while it was being read.
                $text = ''
            }
            if ($text) {
                $text -split '\s+' | ForEach-Object -Process { [int]$_ }
            }
        }
        return @($ids | Sort-Object -Unique)
    }
    @(Get-CimInstance -ClassName Win32_Process -Filter "ParentProcessId = $ProcessId" | ForEach-Object -Process { [int]$_.ProcessId })
}

function Get-TestPowerShellPath {
    # The PowerShell that runs these tests, as a program to start. pwsh installed as a .NET tool
    # runs inside 'dotnet', so neither the current process's path nor $PSHOME is it: the pwsh
    # on PATH is (CI puts the pinned one there).
    if ($PSVersionTable.PSEdition -eq 'Desktop') {
        return (Join-Path -Path $PSHOME -ChildPath 'powershell.exe')
    }
    @(Get-Command -Name 'pwsh' -CommandType Application)[0].Source
}
