<#
.SYNOPSIS
The PowerShell side of bench/powershell.py: times PrefectWin calls inside one pwsh process.

.DESCRIPTION
Imports the module from this repository, then times each case -Runs times and writes one JSON
object of medians (milliseconds) to stdout. Every case runs once untimed first, so the figures
are repeated calls, not first-call costs (module import, JIT, the session's own start).

.PARAMETER Runs
How many timed calls per case.

.EXAMPLE
pwsh -NoProfile -File bench/powershell_calls.ps1 -Runs 20
#>
[CmdletBinding()]
param(
    [Parameter()]
    [ValidateRange(1, 1000)]
    [int] $Runs = 20
)

$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$repository = Split-Path -Path $PSScriptRoot -Parent

function Measure-Median {
    param(
        [Parameter(Mandatory = $true)]
        [scriptblock] $Action,

        [Parameter(Mandatory = $true)]
        [int] $Count
    )
    $null = & $Action
    $times = New-Object -TypeName 'System.Collections.Generic.List[double]'
    for ($i = 0; $i -lt $Count; $i++) {
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        $null = & $Action
        $watch.Stop()
        $times.Add($watch.Elapsed.TotalMilliseconds)
    }
    $sorted = @($times | Sort-Object)
    $middle = [int][System.Math]::Floor($sorted.Count / 2)
    if ($sorted.Count % 2 -eq 1) {
        return $sorted[$middle]
    }
    ($sorted[$middle - 1] + $sorted[$middle]) / 2
}

$importWatch = [System.Diagnostics.Stopwatch]::StartNew()
$module = Import-Module -Name (Join-Path -Path $repository -ChildPath 'PrefectWin.psd1') -Force -PassThru
$importWatch.Stop()

$native = { Get-Item -LiteralPath $PSHOME }
# The bridge alone: the cheapest backend command, called as a cmdlet of the module would.
$version = { & $module { & { [CmdletBinding()] param() Invoke-PrefectBackend -Cmdlet $PSCmdlet -Command 'module.version' } } }
# One check that needs no target interpreter, and one that asks it (the probe).
$noProbe = { Test-PrefectEnvironment -Check 'windows.nssm' }
$withProbe = { Test-PrefectEnvironment -Check 'python.version' }

$figures = [ordered]@{
    powershell = $PSVersionTable.PSVersion.ToString()
    runs = $Runs
    importMs = $importWatch.Elapsed.TotalMilliseconds
    nativeMs = Measure-Median -Action $native -Count $Runs
}

# Per call: every call starts a backend that serves it and exits (the opt-out mode).
$env:PREFECTWIN_BACKEND = 'PerCall'
try {
    $figures['perCallVersionMs'] = Measure-Median -Action $version -Count $Runs
    $figures['perCallNoProbeCheckMs'] = Measure-Median -Action $noProbe -Count $Runs
    $figures['perCallProbeCheckMs'] = Measure-Median -Action $withProbe -Count $Runs
} finally {
    Remove-Item -Path 'env:PREFECTWIN_BACKEND'
}

# The default: one backend for the runspace, started by the first call (here, timed apart).
$startWatch = [System.Diagnostics.Stopwatch]::StartNew()
Start-PrefectSession
$startWatch.Stop()
try {
    $figures['sessionStartMs'] = $startWatch.Elapsed.TotalMilliseconds
    $figures['sessionVersionMs'] = Measure-Median -Action $version -Count $Runs
    $figures['sessionNoProbeCheckMs'] = Measure-Median -Action $noProbe -Count $Runs
    $figures['sessionProbeCheckMs'] = Measure-Median -Action $withProbe -Count $Runs
} finally {
    Stop-PrefectSession
}
ConvertTo-Json -InputObject $figures -Compress
