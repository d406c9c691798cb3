function Get-PrefectService {
    <#
    .SYNOPSIS
    Gets the Prefect servers and workers that PrefectWin runs as Windows services, with their
    health.

    .DESCRIPTION
    Finds the services by the marker Install-PrefectService writes, not by guessing from names,
    and returns one PrefectWin.ServiceInfo per service: Name, Role, Status, StartType, Account,
    Pid, Port, ApiUrl, Pool, WorkerName, PrefectHome, LogPaths, Version, Health,
    HealthDetail and LastHeartbeat.

    Health is Healthy when a server answers /api/health and /api/ready, or when the server's
    API lists a worker in its pool as ONLINE with a heartbeat newer than the worker's process;
    Stopped when the service is not running; Unhealthy otherwise, with the reason in
    HealthDetail.

    Names from the pipeline are collected and looked up in one backend call, so the cost does
    not grow with the number of services.

    .PARAMETER Name
    The services to get. By default, every service that PrefectWin manages. Accepts pipeline
    input by property name.

    .EXAMPLE
    Get-PrefectService

    Lists every PrefectWin service on this computer with its status and health.

    .EXAMPLE
    Get-PrefectService -Name PrefectWorker | Format-List -Property 'Health', 'HealthDetail', 'LastHeartbeat', 'LogPaths'

    Shows why a worker is or is not healthy, and where its logs are.

    .INPUTS
    Objects with a Name property.

    .OUTPUTS
    PrefectWin.ServiceInfo

    .LINK
    Wait-PrefectService

    .LINK
    Install-PrefectService
    #>
    [CmdletBinding()]
    [OutputType('PrefectWin.ServiceInfo')]
    param(
        [Parameter(Position = 0, ValueFromPipelineByPropertyName = $true)]
        [string[]] $Name
    )
    begin {
        $names = New-Object -TypeName 'System.Collections.Generic.List[string]'
    }
    process {
        foreach ($item in @($Name)) {
            if ($item) {
                $names.Add($item)
            }
        }
    }
    end {
        $parameters = @{}
        if ($names.Count -gt 0) {
            $parameters['name'] = $names.ToArray()
        }
        Invoke-PrefectBackend -Cmdlet $PSCmdlet -Command 'service.get' -Parameters $parameters |
            ConvertTo-PrefectObject -TypeName 'ServiceInfo'
    }
}
