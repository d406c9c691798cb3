<#
.SYNOPSIS
Runs one Pester 5 test file and writes what happened as JSON, for tests/test_pester.py.

.DESCRIPTION
pytest drives this script once per tests/*.Tests.ps1 file and per PowerShell host. The JSON
summary names every failed test, block and container with its error, so a pytest failure says
which Pester test failed and why; the NUnit XML beside it is for CI artifacts and editors.
Exit codes: 0 when Pester ran (whatever it found), 3 when no Pester 5 can be imported.

.PARAMETER Path
The *.Tests.ps1 file to run.

.PARAMETER SummaryPath
Where to write the JSON summary.

.PARAMETER ResultPath
Where to write the NUnit XML result.

.EXAMPLE
pwsh -NoProfile -File tests/Invoke-PesterFile.ps1 -Path tests/PrefectWin.Tests.ps1 -SummaryPath out/p.json -ResultPath out/p.xml
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [string] $Path,

    [Parameter(Mandatory = $true)]
    [string] $SummaryPath,

    [Parameter(Mandatory = $true)]
    [string] $ResultPath
)

$ErrorActionPreference = 'Stop'

# Pester 6 is a new major with breaking changes; the suite is written for 5.
$pester = Get-Module -Name Pester -ListAvailable |
    Where-Object { $_.Version -ge [version]'5.3.0' -and $_.Version.Major -eq 5 } |
    Sort-Object -Property Version -Descending |
    Select-Object -First 1
if ($null -eq $pester) {
    Write-Warning -Message ('No Pester 5 (5.3.0 or later) on PSModulePath: ' + $env:PSModulePath)
    exit 3
}
Import-Module -Name $pester.Path -Force

function ConvertTo-ErrorText {
    param([AllowNull()] [object[]] $ErrorRecord)
    $texts = foreach ($record in @($ErrorRecord)) {
        if ($null -ne $record) {
            $position = ''
            if ($record.ScriptStackTrace) {
                $position = ' [' + (($record.ScriptStackTrace -split "`n") | Select-Object -First 1) + ']'
            }
            [string]$record.Exception.Message + $position
        }
    }
    @($texts) -join ' | '
}

function Get-TestTag {
    # A test's own tags and those of the blocks around it: a Describe -Tag 'Windows' marks
    # every test inside.
    param([Parameter(Mandatory = $true)] [object] $Test)
    $tags = New-Object -TypeName 'System.Collections.Generic.List[string]'
    foreach ($tag in @($Test.Tag)) {
        if ($tag) {
            $tags.Add([string]$tag)
        }
    }
    $block = $Test.Block
    while ($null -ne $block) {
        foreach ($tag in @($block.Tag)) {
            if ($tag -and -not $tags.Contains([string]$tag)) {
                $tags.Add([string]$tag)
            }
        }
        $block = $block.Parent
    }
    , $tags.ToArray()
}

$configuration = New-PesterConfiguration
$configuration.Run.Path = $Path
$configuration.Run.PassThru = $true
$configuration.Output.Verbosity = 'Normal'
$configuration.TestResult.Enabled = $true
$configuration.TestResult.OutputFormat = 'NUnitXml'
$configuration.TestResult.OutputPath = $ResultPath
$result = Invoke-Pester -Configuration $configuration

$summary = [ordered]@{
    pesterVersion = $pester.Version.ToString()
    powershell = $PSVersionTable.PSVersion.ToString()
    edition = $PSVersionTable.PSEdition
    result = [string]$result.Result
    passed = $result.PassedCount
    failed = $result.FailedCount
    skipped = $result.SkippedCount
    notRun = $result.NotRunCount
    failures = @(
        foreach ($test in @($result.Failed)) {
            [ordered]@{ name = $test.ExpandedPath; error = ConvertTo-ErrorText -ErrorRecord $test.ErrorRecord }
        }
        foreach ($block in @($result.FailedBlocks)) {
            [ordered]@{ name = 'block: ' + $block.ExpandedPath; error = ConvertTo-ErrorText -ErrorRecord $block.ErrorRecord }
        }
        foreach ($container in @($result.FailedContainers)) {
            [ordered]@{ name = 'file: ' + [string]$container.Item; error = ConvertTo-ErrorText -ErrorRecord $container.ErrorRecord }
        }
    )
    skips = @(
        foreach ($test in @($result.Skipped)) {
            [ordered]@{ name = $test.ExpandedPath; tags = Get-TestTag -Test $test }
        }
    )
}
$json = ConvertTo-Json -InputObject $summary -Depth 6
[System.IO.File]::WriteAllText($SummaryPath, $json, (New-Object -TypeName 'System.Text.UTF8Encoding' -ArgumentList $false))
exit 0
