function ConvertTo-PrefectRequestJson {
    <#
    .SYNOPSIS
    The request Invoke-PrefectBackend sends to the backend, as one line of compact JSON.

    .DESCRIPTION
    Turns values into plain JSON types first (see ConvertTo-PrefectJsonValue), so that Windows
    PowerShell 5.1's ConvertTo-Json keeps a one-element array an array and never serializes
    extended properties. A $null parameter is sent as null, which the backend takes for a
    parameter not given (docs/protocol.md); names keep the order given. A session request
    starts with its "id"; "apply", "cwd" and "environment" follow the four fields, each only when
    given. The contract fixtures record requests without id, cwd and environment
    (tests/bridge/test_contract.py says why).

    .PARAMETER Command
    The backend command, 'family.verb'.

    .PARAMETER Parameters
    The command's parameters with their camelCase wire names.

    .PARAMETER WhatIf
    The protocol's whatIf flag.

    .PARAMETER Location
    The caller's file-system location: the request's cwd.

    .PARAMETER RequestId
    The id of a session request (1 and up); 0 leaves the id out.

    .PARAMETER Apply
    The request's top-level apply field (what to apply of a plan), when given.

    .PARAMETER Environment
    The caller's environment variables, sent as the request's environment (text to text).
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSUseSupportsShouldProcess', '', Justification = '-WhatIf is the protocol whatIf flag.')]
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)] [string] $Command,
        [Parameter()] [System.Collections.IDictionary] $Parameters = @{},
        [Parameter()] [switch] $WhatIf,
        [Parameter()] [AllowNull()] [AllowEmptyString()] [string] $Location,
        [Parameter()] [ValidateRange(0, 2147483647)] [int] $RequestId = 0,
        [Parameter()] [AllowNull()] [System.Collections.IDictionary] $Apply,
        [Parameter()] [AllowNull()] [System.Collections.IDictionary] $Environment
    )
    $request = [ordered]@{}
    if ($RequestId -gt 0) {
        $request['id'] = $RequestId
    }
    $request['protocol'] = 1
    $request['command'] = $Command
    $request['params'] = ConvertTo-PrefectJsonValue -Value $Parameters
    $request['whatIf'] = [bool]$WhatIf
    if ($null -ne $Apply) {
        $request['apply'] = ConvertTo-PrefectJsonValue -Value $Apply
    }
    if ($Location) {
        $request['cwd'] = $Location
    }
    if ($null -ne $Environment) {
        # As it is: text to text already, and an [ordered] copy would fold names that differ
        # only in case (two variables on Linux) into one.
        $request['environment'] = $Environment
    }
    ConvertTo-Json -InputObject $request -Depth 20 -Compress
}
