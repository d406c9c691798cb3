function Update-PrefectService {
    <#
    .SYNOPSIS
    Upgrades Prefect in a service's interpreter, with a database backup, a health gate and a rollback.

    .DESCRIPTION
    Plans, confirms and applies an upgrade of Prefect to -Version in the interpreter that the
    service runs (its python.exe), in this order:

    1. stops the workers of the affected servers, then every service that runs from that
       interpreter;
    2. backs up each SQLite database with SQLite's online backup API, to 'backups' beside it.
       A PostgreSQL database is not backed up by PrefectWin, and a failed upgrade does not
       undo its migration: a warning says what to take (pg_dump), and the upgrade is refused
       (PrefectWin.InvalidArgument, target BackupAcknowledged) until -BackupAcknowledged says
       you have taken it;
    3. runs 'python -m pip install prefect==<Version>' in that interpreter, from the package
       index or, with -WheelPath, only from a folder of wheels (air-gapped hosts);
    4. runs 'prefect server database upgrade --yes' for each server, in the server's own
       environment;
    5. starts the servers and waits until they are healthy, then the workers, and waits again.

    If any step fails, including a health gate that runs out, the steps done are undone in
    reverse: the packages the interpreter had are installed again (the previous Prefect among
    them), each SQLite database is replaced with its backup, byte for byte, and the services
    are started again. The error says which step failed and whether the old services are
    healthy again. The backups are kept.

    The interpreter is the one the service really runs: its NSSM Application with %VAR%
    expanded in the service's environment, and for a venv's Scripts\prefect.exe launcher the
    python.exe beside it. A service whose interpreter cannot be found is refused
    (PrefectWin.NotFound) before anything changes.

    A downgrade is refused: an older release does not know the newer database schema. Restore
    the backup taken before the upgrade instead (Restore-PrefectDatabase).

    .PARAMETER Name
    The service whose interpreter is upgraded. Accepts pipeline input by property name.

    .PARAMETER Version
    The Prefect release to install, for example 3.9.1.

    .PARAMETER WheelPath
    A folder holding the wheel of that release and of its dependencies. pip then uses only this
    folder, never an index. A rollback installs the previous packages from the same source.

    .PARAMETER TimeoutSec
    How long each health gate waits after a start. The default is 120 seconds.

    .PARAMETER BackupAcknowledged
    For a server on PostgreSQL: says that you have taken a pg_dump of its database and kept
    it. Without it, such an upgrade is refused before any change. Not needed for SQLite, which
    the command backs up itself.

    .EXAMPLE
    Update-PrefectService -Name PrefectServer -Version 3.9.1 -WhatIf

    Lists every step (stops, backup, pip install, migration, starts and health gates) and
    changes nothing.

    .EXAMPLE
    Update-PrefectService -Name PrefectServer -Version 3.9.1 -WheelPath 'D:\wheels\prefect-3.9.1' -Confirm:$false

    Upgrades the server's interpreter from a folder of wheels, on a host without PyPI.

    .EXAMPLE
    Get-PrefectService -Name PrefectWorker | Update-PrefectService -Version 3.9.1

    Upgrades a worker's interpreter; only that worker is restarted, unless a server runs from
    the same interpreter.

    .EXAMPLE
    pg_dump --format=custom --file=D:\Backups\prefect-before-3.9.1.dump prefect
    Update-PrefectService -Name PrefectServer -Version 3.9.1 -BackupAcknowledged

    Upgrades a server whose database is PostgreSQL, once its dump is taken.

    .INPUTS
    Objects with a Name property, such as PrefectWin.ServiceInfo.

    .OUTPUTS
    PrefectWin.ServiceUpdate

    .LINK
    Backup-PrefectDatabase

    .LINK
    Restart-PrefectService
    #>
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'Medium')]
    [OutputType('PrefectWin.ServiceUpdate')]
    param(
        [Parameter(Mandatory = $true, Position = 0, ValueFromPipelineByPropertyName = $true)]
        [string] $Name,

        [Parameter(Mandatory = $true)]
        [string] $Version,

        [Parameter()]
        [string] $WheelPath,

        [Parameter()]
        [ValidateRange(1, 3600)]
        [int] $TimeoutSec,

        [Parameter()]
        [switch] $BackupAcknowledged
    )
    process {
        $parameters = ConvertTo-PrefectParameter -BoundParameters $PSBoundParameters
        # pip twice (the upgrade and a rollback), a migration and two health gates.
        Invoke-PrefectPlan -Cmdlet $PSCmdlet -Command 'service.update' -Parameters $parameters -Target $Name -TimeoutSec 7200 |
            ConvertTo-PrefectObject -TypeName 'ServiceUpdate'
    }
}
