function ConvertTo-PrefectObject {
    <#
    .SYNOPSIS
    Turns one backend result object into a typed PrefectWin object.

    .DESCRIPTION
    Copies each top-level property of the input to a new PSCustomObject, with its camelCase wire
    name turned into PascalCase (pythonPath -> PythonPath), and gives the object the type name
    'PrefectWin.<TypeName>' so that PrefectWin.Format.ps1xml and Where-Object pipelines see a
    stable type. Nested values (for example a check's Data) are passed on unchanged.

    .PARAMETER InputObject
    A result object from the backend, as ConvertFrom-Json read it.

    .PARAMETER TypeName
    The type name without the 'PrefectWin.' prefix, for example CheckResult.

    .PARAMETER ExcludeProperty
    Wire (camelCase) names of top-level properties the cmdlet consumed itself and must not pass
    on, for example the plain-text environment assignments of Set-PrefectSetting -Scope Process.
    #>
    [CmdletBinding()]
    [OutputType([System.Management.Automation.PSCustomObject])]
    param(
        [Parameter(Mandatory = $true, ValueFromPipeline = $true)] [AllowNull()] [object] $InputObject,
        [Parameter(Mandatory = $true)] [ValidatePattern('^[A-Z][A-Za-z0-9]*$')] [string] $TypeName,
        [Parameter()] [string[]] $ExcludeProperty = @()
    )
    process {
        if ($null -eq $InputObject) {
            return
        }
        $properties = [ordered]@{}
        foreach ($property in $InputObject.PSObject.Properties) {
            if ($ExcludeProperty -notcontains $property.Name) {
                $properties[$property.Name.Substring(0, 1).ToUpperInvariant() + $property.Name.Substring(1)] = $property.Value
            }
        }
        $object = [PSCustomObject]$properties
        $object.PSObject.TypeNames.Insert(0, "PrefectWin.$TypeName")
        $object
    }
}
