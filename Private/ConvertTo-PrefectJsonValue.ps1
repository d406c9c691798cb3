function ConvertTo-PrefectJsonValue {
    <#
    .SYNOPSIS
    One parameter value as data that every PowerShell's ConvertTo-Json writes the same way.

    .DESCRIPTION
    Converts only what PowerShell alone can: SecureStrings into their text and PSCredentials
    into {userName, password} (the request travels over stdin, never the command line),
    switches into booleans, enums (the DSC classes' Ensure) into their names and dates into
    ISO 8601. Checking the values is the backend's work (docs/protocol.md, "Request values").
    Strings are copied and lists, dictionaries and objects rebuilt because Windows PowerShell
    5.1's ConvertTo-Json writes a string's notes (PSPath and the like) and a wrapped array's Count
    as objects. A list is returned as ONE object, so a one-element list stays a list.
    #>
    [CmdletBinding()]
    [OutputType([object])]
    param(
        [Parameter()] [AllowNull()] [object] $Value
    )
    if ($Value -is [System.Management.Automation.PSCustomObject]) {
        # The plan's actions (Invoke-PrefectPlan sends them back as ConvertFrom-Json read them).
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
        # must not be found again by Windows PowerShell's ConvertTo-Json.
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
        # Windows PowerShell 5.1 would write '\/Date(ms)\/', without the caller's time zone.
        return $Value.ToString('o', [System.Globalization.CultureInfo]::InvariantCulture)
    }
    if ($Value -is [System.Collections.IDictionary]) {
        $dictionary = [ordered]@{}
        foreach ($key in $Value.Keys) {
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
