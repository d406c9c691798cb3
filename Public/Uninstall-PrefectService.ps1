function Uninstall-PrefectService {
    <#
    .SYNOPSIS
    Stops and removes a Prefect service that PrefectWin installed, with its firewall rule.

    .DESCRIPTION
    Plans, confirms and applies the removal of one service:

    1. stops it gracefully (NSSM sends Ctrl-C, so Prefect shuts down cleanly) and kills its
       process tree if it has not stopped after the timeout;
    2. removes the inbound firewall rule that Install-PrefectService -OpenFirewall created;
    3. removes the service;
    4. with -RemoveLogs, deletes its log files (and NSSM's rotated copies);
    5. with -RemoveDatabase, deletes its SQLite database. A PostgreSQL database is never
       dropped, and no database is deleted without this switch.

    PREFECT_HOME itself is kept. If a step fails, the steps before it are undone where they
    can be (the service is started again, the rule restored), and the error says which.
    With -RemoveDatabase every action is confirmed, as at ConfirmImpact High, unless
    -Confirm:$false is given.

    .PARAMETER Name
    The service to remove. Accepts pipeline input by property name (Get-PrefectService).

    .PARAMETER RemoveLogs
    Also deletes the service's log files.

    .PARAMETER RemoveDatabase
    Also deletes the service's SQLite database: every flow run, deployment and block in it.

    .PARAMETER TimeoutSec
    Kills the service if it has not stopped after this many seconds. By default, its stop
    timeout plus 15 seconds.

    .PARAMETER NssmPath
    The nssm.exe to use. By default, the one on PATH.

    .PARAMETER Force
    Removes a service even if PrefectWin does not manage it.

    .EXAMPLE
    Uninstall-PrefectService -Name PrefectWorker -WhatIf

    Lists what removing the worker would do, and changes nothing.

    .EXAMPLE
    Get-PrefectService | Where-Object Role -eq Worker | Uninstall-PrefectService -RemoveLogs -Confirm:$false

    Removes every PrefectWin worker on this computer and its logs, without asking.

    .EXAMPLE
    Uninstall-PrefectService -Name PrefectServer -RemoveLogs -RemoveDatabase

    Removes the server, its logs and its SQLite database, asking before each action.

    .INPUTS
    Objects with a Name property, such as PrefectWin.ServiceInfo.

    .OUTPUTS
    PrefectWin.ServicePlan

    .LINK
    Install-PrefectService

    .LINK
    Get-PrefectService
    #>
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'Medium')]
    [OutputType('PrefectWin.ServicePlan')]
    param(
        [Parameter(Mandatory = $true, Position = 0, ValueFromPipelineByPropertyName = $true)]
        [string] $Name,

        [Parameter()]
        [switch] $RemoveLogs,

        [Parameter()]
        [switch] $RemoveDatabase,

        [Parameter()]
        [ValidateRange(1, 3600)]
        [int] $TimeoutSec,

        [Parameter()]
        [string] $NssmPath,

        [Parameter()]
        [switch] $Force
    )
    process {
        $parameters = ConvertTo-PrefectParameter -BoundParameters $PSBoundParameters
        if ($RemoveDatabase) {
            # Deleting a database is ConfirmImpact High: confirm every action unless -Confirm:$false.
            $ConfirmPreference = 'Low'
        }
        Invoke-PrefectPlan -Cmdlet $PSCmdlet -Command 'service.uninstall' -Parameters $parameters -Target $Name |
            ConvertTo-PrefectObject -TypeName 'ServicePlan'
    }
}
