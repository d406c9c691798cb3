# PrefectWin root module: the private helpers first, then one public cmdlet per file.
# The manifest's FunctionsToExport is the authoritative export list; Export-ModuleMember keeps
# the module correct when it is imported by its .psm1 alone (as some tests and tools do).
Set-StrictMode -Version 3.0

$privateFolder = Join-Path -Path $PSScriptRoot -ChildPath 'Private'
$publicFolder = Join-Path -Path $PSScriptRoot -ChildPath 'Public'
$privateFiles = @(Get-ChildItem -Path $privateFolder -Filter '*.ps1' -File | Sort-Object -Property Name)
$publicFiles = @(Get-ChildItem -Path $publicFolder -Filter '*.ps1' -File | Sort-Object -Property Name)

foreach ($file in @($privateFiles + $publicFiles)) {
    . $file.FullName
}

Export-ModuleMember -Function @($publicFiles | ForEach-Object -Process { $_.BaseName })
