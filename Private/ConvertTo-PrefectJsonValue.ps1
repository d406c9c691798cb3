function ConvertTo-PrefectJsonValue {
    <#
    .SYNOPSIS
    One parameter value as plain JSON-ready data: string, number, bool, list or dictionary.

    .DESCRIPTION
    Unwraps PSObjects (so no extended properties such as PSPath reach the JSON), turns switches
    into booleans, SecureStrings into their text and PSCredentials into {userName, password}
    (the request travels over stdin, never the command line), enums into their names and dates
    into ISO 8601. A list is returned as ONE object, so a one-element list stays a list.
    #>
    [CmdletBinding()]
    [OutputType([object])]
    param(
        [Parameter()] [AllowNull()] [object] $Value
    )
    if ($null -eq $Value) {
        return $null
    }
    if ($Value -is [System.Management.Automation.PSCustomObject]) {
        # Before the unwrapping below: every PSCustomObject shares one base object, and its
        # properties live on the wrapper only.
        $dictionary = [ordered]@{}
        foreach ($property in $Value.PSObject.Properties) {
            $dictionary[$property.Name] = ConvertTo-PrefectJsonValue -Value $property.Value
        }
        return $dictionary
    }
    if ($Value -is [System.Management.Automation.PSObject]) {
        $Value = $Value.PSObject.BaseObject
    }
    if ($Value -is [string] -or $Value -is [char]) {
        # A new string instance: notes that Add-Member or Get-Content attached to the original
        # (PSPath and the like) must not be found again by Windows PowerShell's ConvertTo-Json.
        return [string]::new(([string]$Value).ToCharArray())
    }
    if ($Value -is [System.Management.Automation.SwitchParameter]) {
        return $Value.IsPresent
    }
    if ($Value -is [System.Security.SecureString]) {
        return (New-Object -TypeName System.Net.NetworkCredential -ArgumentList @('', $Value)).Password
    }
    if ($Value -is [System.Management.Automation.PSCredential]) {
        return [ordered]@{
            userName = $Value.UserName
            password = $Value.GetNetworkCredential().Password
        }
    }
    if ($Value -is [System.Enum]) {
        return $Value.ToString()
    }
    if ($Value -is [System.DateTime] -or $Value -is [System.DateTimeOffset]) {
        return $Value.ToString('o', [System.Globalization.CultureInfo]::InvariantCulture)
    }
    if ($Value -is [System.Collections.IDictionary]) {
        # Keys in a stable order: as given for an [ordered] table, sorted for a hashtable.
        $keys = @($Value.Keys)
        if ($Value -isnot [System.Collections.Specialized.OrderedDictionary]) {
            $keys = @($keys | Sort-Object)
        }
        $dictionary = [ordered]@{}
        foreach ($key in $keys) {
            $dictionary[[string]$key] = ConvertTo-PrefectJsonValue -Value $Value[$key]
        }
        return $dictionary
    }
    if ($Value -is [System.Collections.IEnumerable]) {
        $items = New-Object -TypeName 'System.Collections.Generic.List[object]'
        foreach ($item in $Value) {
            $items.Add((ConvertTo-PrefectJsonValue -Value $item))
        }
        return , $items.ToArray()
    }
    $Value
}
