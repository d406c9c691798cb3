function Get-PrefectField {
    <#
    .SYNOPSIS
    Reads one field of a backend object, or $null when it is absent (safe under Set-StrictMode).

    .DESCRIPTION
    Works for PSCustomObjects from ConvertFrom-Json and for hashtables. An array value is
    returned as one object (not unrolled), so '$x = Get-PrefectField ...' keeps a one-element
    list a list.
    #>
    [CmdletBinding()]
    [OutputType([object])]
    param(
        [Parameter()] [AllowNull()] [object] $InputObject,
        [Parameter(Mandatory = $true)] [string] $Name
    )
    if ($null -eq $InputObject) {
        return $null
    }
    if ($InputObject -is [System.Collections.IDictionary]) {
        if ($InputObject.Contains($Name)) {
            return , $InputObject[$Name]
        }
        return $null
    }
    $property = $InputObject.PSObject.Properties[$Name]
    if ($null -eq $property) {
        return $null
    }
    return , $property.Value
}
