<#
.SYNOPSIS
Installs, tests and analyzes PrefectWin.

.DESCRIPTION
Tasks:
  Install  Creates .venv in this folder (with 'py -3', or else 'python' on PATH) and installs
           the backend (./python) into it. Resolve-PrefectPython finds this venv by itself.
  Test     Installs the backend with its test extras (editable), then runs pytest, Pester 5
           (NUnit XML results in out/) and PSScriptAnalyzer; fails when any of them fails.
  Analyze  Runs PSScriptAnalyzer alone, with PSScriptAnalyzerSettings.psd1.
  Build    Not implemented yet (issue 6).
  Publish  Not implemented yet (issue 6).

.PARAMETER Task
The task to run; Test by default.

.PARAMETER Python
The interpreter to create .venv with, instead of 'py -3' or 'python'.

.EXAMPLE
./build.ps1 Install

.EXAMPLE
./build.ps1 Test
#>
[CmdletBinding()]
param(
    [Parameter(Position = 0)]
    [ValidateSet('Install', 'Test', 'Analyze', 'Build', 'Publish')]
    [string] $Task = 'Test',

    [Parameter()]
    [string] $Python
)

$ErrorActionPreference = 'Stop'
$InformationPreference = 'Continue'
$root = $PSScriptRoot
$onWindows = [System.Environment]::OSVersion.Platform -eq [System.PlatformID]::Win32NT
$venv = Join-Path -Path $root -ChildPath '.venv'
if ($onWindows) {
    $venvPython = [System.IO.Path]::Combine($venv, 'Scripts', 'python.exe')
} else {
    $venvPython = [System.IO.Path]::Combine($venv, 'bin', 'python')
}
$outFolder = Join-Path -Path $root -ChildPath 'out'

function Invoke-NativeCommand {
    # Runs an external program and throws when its exit code is not 0.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [string] $FilePath,

        [Parameter()]
        [string[]] $ArgumentList = @()
    )
    Write-Information -MessageData ('> {0} {1}' -f $FilePath, ($ArgumentList -join ' '))
    # Exit codes, not stderr, tell success: pip and pytest write warnings to stderr.
    $ErrorActionPreference = 'Continue'
    & $FilePath @ArgumentList
    if ($LASTEXITCODE -ne 0) {
        throw "'$FilePath' failed with exit code $LASTEXITCODE."
    }
}

function Get-BootstrapPython {
    # The interpreter (and its prefix arguments) that creates .venv.
    [CmdletBinding()]
    [OutputType([string[]])]
    param(
        [Parameter()]
        [string] $Requested
    )
    if ($Requested) {
        return @($Requested)
    }
    $launcher = @(Get-Command -Name 'py' -CommandType Application -ErrorAction SilentlyContinue) | Select-Object -First 1
    if ($null -ne $launcher) {
        return @($launcher.Path, '-3')
    }
    foreach ($name in @('python', 'python3')) {
        foreach ($command in @(Get-Command -Name $name -CommandType Application -All -ErrorAction SilentlyContinue)) {
            if ($command.Path -notmatch '[\\/]WindowsApps[\\/]') {
                return @($command.Path)
            }
        }
    }
    throw "No Python found. Install Python 3.10 or later (python.org, or 'winget install Python.Python.3.12'), or pass -Python."
}

function Install-BackendVenv {
    # Creates .venv when it is missing, then installs ./python into it.
    [CmdletBinding()]
    param(
        [Parameter()]
        [string] $Bootstrap,

        [Parameter()]
        [switch] $ForTest
    )
    if (-not (Test-Path -LiteralPath $venvPython -PathType Leaf)) {
        $creator = @(Get-BootstrapPython -Requested $Bootstrap)
        $arguments = @($creator | Select-Object -Skip 1) + @('-m', 'venv', $venv)
        Invoke-NativeCommand -FilePath $creator[0] -ArgumentList $arguments
    }
    $package = Join-Path -Path $root -ChildPath 'python'
    if ($ForTest) {
        Invoke-NativeCommand -FilePath $venvPython -ArgumentList @('-m', 'pip', 'install', '--editable', ($package + '[test]'))
    } else {
        Invoke-NativeCommand -FilePath $venvPython -ArgumentList @('-m', 'pip', 'install', $package)
    }
    Write-Information -MessageData "Backend interpreter: $venvPython"
}

function Invoke-Pytest {
    [CmdletBinding()]
    param()
    $junit = Join-Path -Path $outFolder -ChildPath 'pytest.xml'
    Invoke-NativeCommand -FilePath $venvPython -ArgumentList @('-m', 'pytest', (Join-Path -Path $root -ChildPath 'tests'), '-q', "--junitxml=$junit")
}

function Invoke-PesterTest {
    [CmdletBinding()]
    param()
    Import-Module -Name Pester -MinimumVersion 5.3.0 -ErrorAction Stop
    $configuration = New-PesterConfiguration
    $configuration.Run.Path = Join-Path -Path $root -ChildPath 'tests'
    $configuration.Run.PassThru = $true
    $configuration.Output.Verbosity = 'Detailed'
    $configuration.TestResult.Enabled = $true
    $configuration.TestResult.OutputFormat = 'NUnitXml'
    $configuration.TestResult.OutputPath = Join-Path -Path $outFolder -ChildPath ('pester-{0}.xml' -f $PSVersionTable.PSEdition)
    $result = Invoke-Pester -Configuration $configuration
    if ($result.Result -ne 'Passed') {
        throw "Pester: $($result.FailedCount) test(s) failed, $($result.FailedBlocksCount) block(s) and $($result.FailedContainersCount) file(s) could not run."
    }
}

function Invoke-Analyzer {
    [CmdletBinding()]
    param()
    Import-Module -Name PSScriptAnalyzer -ErrorAction Stop
    $settings = Join-Path -Path $root -ChildPath 'PSScriptAnalyzerSettings.psd1'
    # The module, its manifest and settings, and this script. Not .venv (its activation
    # scripts are not ours) and not tests/ (Pester's BeforeAll/It scoping defeats the
    # assigned-but-unused rule; the static pytest checks cover the tests' style).
    $skipped = '^[\\/](\.venv|\.git|out|tests)[\\/]'
    $files = @(Get-ChildItem -Path $root -Recurse -File -Include '*.ps1', '*.psm1', '*.psd1' | Where-Object { $_.FullName.Substring($root.Length) -notmatch $skipped })
    $findings = New-Object -TypeName 'System.Collections.Generic.List[object]'
    foreach ($file in $files) {
        foreach ($finding in @(Invoke-ScriptAnalyzer -Path $file.FullName -Settings $settings)) {
            $findings.Add($finding)
        }
    }
    if ($findings.Count -gt 0) {
        # Quoted names: tree-sitter-powershell cannot parse a comma list of bare words as an
        # argument (valid PowerShell), and tests/test_powershell_static.py parses this file.
        $columns = @('Severity', 'RuleName', 'ScriptName', 'Line', 'Message')
        Write-Information -MessageData ($findings | Format-Table -Property $columns -AutoSize -Wrap | Out-String)
    }
    $blocking = @($findings | Where-Object { 'Error', 'Warning', 'ParseError' -contains [string]$_.Severity })
    if ($blocking.Count -gt 0) {
        throw "PSScriptAnalyzer: $($blocking.Count) finding(s) of severity Error or Warning in $($files.Count) file(s)."
    }
    Write-Information -MessageData "PSScriptAnalyzer: no Error or Warning findings in $($files.Count) file(s)."
}

switch ($Task) {
    'Install' {
        Install-BackendVenv -Bootstrap $Python
    }
    'Test' {
        Install-BackendVenv -Bootstrap $Python -ForTest
        $null = New-Item -Path $outFolder -ItemType Directory -Force
        Invoke-Pytest
        Invoke-PesterTest
        Invoke-Analyzer
    }
    'Analyze' {
        Invoke-Analyzer
    }
    'Build' {
        throw 'Build: not implemented yet (issue 6).'
    }
    'Publish' {
        throw 'Publish: not implemented yet (issue 6).'
    }
}
