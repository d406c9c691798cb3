<#
.SYNOPSIS
Installs, tests and analyzes PrefectWin.

.DESCRIPTION
Tasks:
  Install  Creates .venv in this folder (with 'py -3', or else 'python' on PATH) and installs
           the backend (./python) into it. Resolve-PrefectPython finds this venv by itself.
  Test     Installs the backend with its test extras (editable), then runs pytest (which runs
           every Pester 5 file under pwsh and, on Windows, Windows PowerShell: tests/test_pester.py),
           then PSScriptAnalyzer; fails when either fails. JUnit XML of pytest goes to out/.
  Analyze  Runs PSScriptAnalyzer alone, with PSScriptAnalyzerSettings.psd1.
  Build    Writes out/PrefectWin/<ModuleVersion>/: the manifest, the format file, the about
           help, ONE PrefectWin.psm1 that holds every Private/ and Public/ function and the DSC
           resource classes (faster to import than ~20 dot-sourced files), and python/ (the
           backend package). The work is done by tools/build_module.py, so that pytest
           (tests/module/test_build.py) runs the same code and checks its result without PowerShell.
  Publish  Builds, then Publish-Module of that folder to -Repository (Register-PSRepository
           first). An API key, if the repository needs one, comes from the environment variable
           PREFECTWIN_NUGET_API_KEY, never from the command line. Refused in CI.

.PARAMETER Task
The task to run; Test by default.

.PARAMETER Python
The interpreter to create .venv with, instead of 'py -3' or 'python'.

.PARAMETER Repository
Publish: the name of the PSRepository to publish to (Get-PSRepository lists them).

.EXAMPLE
./build.ps1 Install

.EXAMPLE
./build.ps1 Test

.EXAMPLE
./build.ps1 Build; Import-Module ./out/PrefectWin/0.1.0/PrefectWin.psd1

.EXAMPLE
./build.ps1 Publish -Repository 'InternalGallery'
#>
[CmdletBinding()]
param(
    [Parameter(Position = 0)]
    [ValidateSet('Install', 'Test', 'Analyze', 'Build', 'Publish')]
    [string] $Task = 'Test',

    [Parameter()]
    [string] $Python,

    [Parameter()]
    [string] $Repository
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
    # The README's test command runs two xdist workers; so does this, for the same run time.
    Invoke-NativeCommand -FilePath $venvPython -ArgumentList @('-m', 'pytest', (Join-Path -Path $root -ChildPath 'tests'), '-n', '2', '-q', "--junitxml=$junit")
}

function Invoke-Analyzer {
    [CmdletBinding()]
    param()
    Import-Module -Name PSScriptAnalyzer -ErrorAction Stop
    $settings = Join-Path -Path $root -ChildPath 'PSScriptAnalyzerSettings.psd1'
    # The module, its manifest and settings, and this script. Not .venv (its activation
    # scripts are not ours), not tests/ (Pester's BeforeAll/It scoping defeats the
    # assigned-but-unused rule; tests/HouseStyle.Tests.ps1 and tests/Compat51.Tests.ps1 hold the
    # tests to the house and 5.1 rules), and not
    # examples/ (a DSC configuration's Import-DscResource is resolved while it is parsed, so it
    # parses only where PrefectWin is installed; the Pester tests compile the sample instead).
    $skipped = '^[\\/](\.venv|\.git|out|tests|examples)[\\/]'
    $files = @(Get-ChildItem -Path $root -Recurse -File -Include '*.ps1', '*.psm1', '*.psd1' | Where-Object { $_.FullName.Substring($root.Length) -notmatch $skipped })
    $findings = New-Object -TypeName 'System.Collections.Generic.List[object]'
    foreach ($file in $files) {
        foreach ($finding in @(Invoke-ScriptAnalyzer -Path $file.FullName -Settings $settings)) {
            $findings.Add($finding)
        }
    }
    if ($findings.Count -gt 0) {
        $columns = @('Severity', 'RuleName', 'ScriptName', 'Line', 'Message')
        Write-Information -MessageData ($findings | Format-Table -Property $columns -AutoSize -Wrap | Out-String)
    }
    $blocking = @($findings | Where-Object { 'Error', 'Warning', 'ParseError' -contains [string]$_.Severity })
    if ($blocking.Count -gt 0) {
        throw "PSScriptAnalyzer: $($blocking.Count) finding(s) of severity Error or Warning in $($files.Count) file(s)."
    }
    Write-Information -MessageData "PSScriptAnalyzer: no Error or Warning findings in $($files.Count) file(s)."
}

function Invoke-ModuleBuild {
    # Runs tools/build_module.py and returns the versioned module folder it wrote.
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter()]
        [string] $Bootstrap
    )
    if (Test-Path -LiteralPath $venvPython -PathType Leaf) {
        $interpreter = @($venvPython)
    } else {
        $interpreter = @(Get-BootstrapPython -Requested $Bootstrap)
    }
    $builder = Join-Path -Path (Join-Path -Path $root -ChildPath 'tools') -ChildPath 'build_module.py'
    $arguments = @($interpreter | Select-Object -Skip 1) + @($builder, '--out', $outFolder)
    $lines = @(Invoke-NativeCommand -FilePath $interpreter[0] -ArgumentList $arguments)
    $folder = [string]$lines[-1]
    Write-Information -MessageData "Built $folder"
    $folder
}

function Publish-PrefectWinModule {
    # Builds, then publishes the versioned folder; never in CI.
    [CmdletBinding(SupportsShouldProcess = $true)]
    param(
        [Parameter()]
        [string] $Bootstrap,

        [Parameter()]
        [string] $Target
    )
    if ($env:CI -eq 'true' -or $env:GITHUB_ACTIONS -eq 'true') {
        throw 'Publish never runs in CI: publish from a release workstation with ./build.ps1 Publish -Repository NAME.'
    }
    if (-not $Target) {
        throw "Publish needs -Repository NAME (Get-PSRepository lists them; Register-PSRepository adds one)."
    }
    $folder = Invoke-ModuleBuild -Bootstrap $Bootstrap
    $publishParameters = @{
        Path = $folder
        Repository = $Target
    }
    $apiKey = [System.Environment]::GetEnvironmentVariable('PREFECTWIN_NUGET_API_KEY')
    if ($apiKey) {
        $publishParameters['NuGetApiKey'] = $apiKey
    }
    if ($PSCmdlet.ShouldProcess($Target, "Publish-Module $folder")) {
        Publish-Module @publishParameters
        Write-Information -MessageData "Published $folder to $Target."
    }
}

switch ($Task) {
    'Install' {
        Install-BackendVenv -Bootstrap $Python
    }
    'Test' {
        Install-BackendVenv -Bootstrap $Python -ForTest
        $null = New-Item -Path $outFolder -ItemType Directory -Force
        Invoke-Pytest
        Invoke-Analyzer
    }
    'Analyze' {
        Invoke-Analyzer
    }
    'Build' {
        $null = Invoke-ModuleBuild -Bootstrap $Python
    }
    'Publish' {
        Publish-PrefectWinModule -Bootstrap $Python -Target $Repository
    }
}
