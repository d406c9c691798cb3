function Restart-PrefectService {
    <#
    .SYNOPSIS
    Restarts Prefect services in order: workers stop before their server and start after it.

    .DESCRIPTION
    Plans, confirms and applies an ordered restart of the named services (by default, every
    service PrefectWin manages on this computer):

    1. stops the running workers of each named server, and the named workers;
    2. stops the named servers;
    3. starts the servers and waits until each answers /api/health and /api/ready;
    4. starts the workers and waits until each is ONLINE in its work pool.

    A worker belongs to a server when it depends on that server's service or uses its API URL.
    A worker whose server goes first spends several seconds retrying, and a worker that starts
    before its server logs connection errors; the order avoids both. Progress is shown while
    each health gate waits. If a step fails, the services are started again as they were, and
    the error names the step.

    Names from the pipeline are collected and restarted together, in one ordered plan.

    .PARAMETER Name
    The services to restart. Accepts pipeline input by property name (Get-PrefectService). By
    default, every service PrefectWin manages.

    .PARAMETER TimeoutSec
    How long each health gate waits after a start. The default is 120 seconds. The whole
    restart may take two health gates plus five minutes for the stops and starts
    (2 x TimeoutSec + 300 seconds) before the backend is given up on.

    .EXAMPLE
    Restart-PrefectService -Name PrefectServer -WhatIf

    Lists the order: the server's workers stop, the server stops and starts, its health gate,
    then the workers start and theirs. Nothing is changed.

    .EXAMPLE
    Get-PrefectService | Restart-PrefectService -Confirm:$false

    Restarts every PrefectWin service on this computer in dependency order, without asking.

    .INPUTS
    Objects with a Name property, such as PrefectWin.ServiceInfo.

    .OUTPUTS
    PrefectWin.ServiceRestart

    .LINK
    Get-PrefectService

    .LINK
    Wait-PrefectService
    #>
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'Medium')]
    [OutputType('PrefectWin.ServiceRestart')]
    param(
        [Parameter(Position = 0, ValueFromPipelineByPropertyName = $true)]
        [string[]] $Name,

        [Parameter()]
        [ValidateRange(1, 3600)]
        [int] $TimeoutSec = 120
    )
    begin {
        $names = New-Object -TypeName 'System.Collections.Generic.List[string]'
    }
    process {
        foreach ($item in $Name) {
            $names.Add($item)
        }
    }
    end {
        $parameters = @{}
        if ($names.Count -gt 0) {
            $parameters['name'] = $names.ToArray()
        }
        # Sent only when given: the default above is the backend's (Module.Tests holds them equal),
        # so the health gates and the bridge timeout below follow one figure either way.
        if ($PSBoundParameters.ContainsKey('TimeoutSec')) {
            $parameters['timeoutSec'] = $TimeoutSec
        }
        $target = if ($names.Count -gt 0) { $names -join ', ' } else { 'Prefect services' }
        # Two health gates (servers, then workers), and five minutes for the stops and starts.
        $bridgeTimeout = 2 * $TimeoutSec + 300
        Invoke-PrefectPlan -Cmdlet $PSCmdlet -Command 'service.restart' -Parameters $parameters -Target $target -TimeoutSec $bridgeTimeout |
            ConvertTo-PrefectObject -TypeName 'ServiceRestart'
    }
}
