function Wait-PrefectService {
    <#
    .SYNOPSIS
    Waits until Prefect services are healthy, or the timeout runs out.

    .DESCRIPTION
    Polls the services about once a second, showing each poll with Write-Progress: a server is
    healthy when /api/health and /api/ready answer, a worker when the server's API lists it in
    its pool as ONLINE with a heartbeat newer than its process. Returns the services as
    PrefectWin.ServiceInfo once all are healthy; writes a PrefectWin.Timeout error naming the
    ones that are not, with the reason, when -TimeoutSec runs out.

    Names from the pipeline are collected and waited for together, in one backend call.

    .PARAMETER Name
    The services to wait for. Accepts pipeline input by property name.

    .PARAMETER TimeoutSec
    Gives up after this many seconds. Default 120.

    .EXAMPLE
    Wait-PrefectService -Name PrefectServer -TimeoutSec 60

    Waits up to a minute for the server to answer /api/health and /api/ready.

    .EXAMPLE
    Start-Service -Name 'PrefectServer', 'PrefectWorker'; Get-PrefectService | Wait-PrefectService

    Starts both services and waits until the server is ready and the worker heartbeats.

    .INPUTS
    Objects with a Name property, such as PrefectWin.ServiceInfo.

    .OUTPUTS
    PrefectWin.ServiceInfo

    .LINK
    Get-PrefectService
    #>
    [CmdletBinding()]
    [OutputType('PrefectWin.ServiceInfo')]
    param(
        [Parameter(Mandatory = $true, Position = 0, ValueFromPipelineByPropertyName = $true)]
        [string[]] $Name,

        [Parameter()]
        [ValidateRange(1, 3600)]
        [int] $TimeoutSec
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
        $parameters = @{ name = $names.ToArray() }
        if ($PSBoundParameters.ContainsKey('TimeoutSec')) {
            $parameters['timeoutSec'] = $TimeoutSec
        }
        $bridgeTimeout = [System.Math]::Max(600, $TimeoutSec + 300)
        Invoke-PrefectBackend -Cmdlet $PSCmdlet -Command 'service.wait' -Parameters $parameters -TimeoutSec $bridgeTimeout |
            ConvertTo-PrefectObject -TypeName 'ServiceInfo'
    }
}
