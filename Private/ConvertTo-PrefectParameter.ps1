function ConvertTo-PrefectParameter {
    <#
    .SYNOPSIS
    A cmdlet's bound parameters as its backend command's params: camelCase, common ones left out.

    .DESCRIPTION
    tests/Module.Tests.ps1 holds every public cmdlet's parameters (read with Get-Command) equal
    to its command's params model, PascalCase here and camelCase on the wire. So the wire
    names are derived here once instead of being listed again in every cmdlet. The common
    parameters (-Verbose, -ErrorAction, -WhatIf, -Confirm and the rest) belong to PowerShell and
    are never sent. Values are passed as they are; Invoke-PrefectBackend turns them into JSON
    (a PSCredential becomes {userName, password} inside the request only).

    .PARAMETER BoundParameters
    The calling cmdlet's $PSBoundParameters.
    #>
    [CmdletBinding()]
    [OutputType([hashtable])]
    param(
        [Parameter(Mandatory = $true)] [AllowEmptyCollection()] [System.Collections.IDictionary] $BoundParameters
    )
    $common = [System.Management.Automation.PSCmdlet]::CommonParameters
    $optional = [System.Management.Automation.PSCmdlet]::OptionalCommonParameters
    $parameters = @{}
    foreach ($key in $BoundParameters.Keys) {
        if ($common.Contains($key) -or $optional.Contains($key)) {
            continue
        }
        $parameters[$key.Substring(0, 1).ToLowerInvariant() + $key.Substring(1)] = $BoundParameters[$key]
    }
    $parameters
}
