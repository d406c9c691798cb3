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
    A result object from the backend (PSCustomObject from ConvertFrom-Json, or a hashtable).

    .PARAMETER TypeName
    The type name without the 'PrefectWin.' prefix, for example CheckResult.

    .PARAMETER ExcludeProperty
    Wire (camelCase) names of top-level properties the cmdlet consumed itself and must not pass
    on, for example the plain-text environment assignments of Set-PrefectSetting -Scope Process.
    #>
    [CmdletBinding()]
    [OutputType([System.Management.Automation.PSCustomObject])]
    param(
        [Parameter(Mandatory = $true, ValueFromPipeline = $true)]
        [AllowNull()]
        [object] $InputObject,

        [Parameter(Mandatory = $true)]
        [ValidatePattern('^[A-Z][A-Za-z0-9]*$')]
        [string] $TypeName,

        [Parameter()]
        [string[]] $ExcludeProperty = @()
    )
    process {
        if ($null -eq $InputObject) {
            return
        }
        $properties = [ordered]@{}
        if ($InputObject -is [System.Collections.IDictionary]) {
            foreach ($key in $InputObject.Keys) {
                if ($ExcludeProperty -notcontains [string]$key) {
                    $properties[(ConvertTo-PrefectPascalCase -Name ([string]$key))] = $InputObject[$key]
                }
            }
        } else {
            foreach ($property in $InputObject.PSObject.Properties) {
                if ($ExcludeProperty -notcontains $property.Name) {
                    $properties[(ConvertTo-PrefectPascalCase -Name $property.Name)] = $property.Value
                }
            }
        }
        $object = [PSCustomObject]$properties
        $object.PSObject.TypeNames.Insert(0, "PrefectWin.$TypeName")
        $object
    }
}

function ConvertTo-PrefectPascalCase {
    <#
    .SYNOPSIS
    Upper-cases the first letter of a camelCase wire name: pythonPath -> PythonPath.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [AllowEmptyString()]
        [string] $Name
    )
    if ($Name.Length -eq 0) {
        return $Name
    }
    $Name.Substring(0, 1).ToUpperInvariant() + $Name.Substring(1)
}

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
        [Parameter()]
        [AllowNull()]
        [object] $InputObject,

        [Parameter(Mandatory = $true)]
        [string] $Name
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
