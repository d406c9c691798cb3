function New-PrefectErrorRecord {
    <#
    .SYNOPSIS
    Turns a backend error object into a PowerShell ErrorRecord.

    .DESCRIPTION
    The backend reports every error as {code, category, message, target, remediation}
    (docs/protocol.md), always with its code and message (ConvertFrom-PrefectResponse checks).
    The record gets ErrorId 'PrefectWin.<code>', the ErrorCategory that category names
    (NotSpecified when the name is not an ErrorCategory member), the target as TargetObject, and the remediation as ErrorDetails.RecommendedAction, so that
    $Error[0].ErrorDetails.RecommendedAction tells the administrator what to do next.

    .PARAMETER ErrorObject
    The error object: a PSCustomObject from ConvertFrom-Json or a hashtable with the same keys.
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSUseShouldProcessForStateChangingFunctions', '', Justification = 'Creates an object in memory; changes no system state.')]
    [CmdletBinding()]
    [OutputType([System.Management.Automation.ErrorRecord])]
    param(
        [Parameter(Mandatory = $true)] [object] $ErrorObject
    )
    $code = [string](Get-PrefectField -InputObject $ErrorObject -Name 'code')
    $categoryName = [string](Get-PrefectField -InputObject $ErrorObject -Name 'category')
    $message = [string](Get-PrefectField -InputObject $ErrorObject -Name 'message')
    $target = Get-PrefectField -InputObject $ErrorObject -Name 'target'
    $remediation = [string](Get-PrefectField -InputObject $ErrorObject -Name 'remediation')

    $category = [System.Management.Automation.ErrorCategory]::NotSpecified
    if ($categoryName -and [System.Enum]::IsDefined([System.Management.Automation.ErrorCategory], $categoryName)) {
        $category = [System.Management.Automation.ErrorCategory]$categoryName
    }
    $exception = New-Object -TypeName System.Exception -ArgumentList $message
    $record = New-Object -TypeName System.Management.Automation.ErrorRecord -ArgumentList @($exception, "PrefectWin.$code", $category, $target)
    $record.ErrorDetails = New-Object -TypeName System.Management.Automation.ErrorDetails -ArgumentList $message
    if ($remediation) {
        $record.ErrorDetails.RecommendedAction = $remediation
    }
    $record
}
