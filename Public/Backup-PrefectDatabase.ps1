function Backup-PrefectDatabase {
    <#
    .SYNOPSIS
    Backs up the SQLite database of a Prefect server, safely while the server runs.

    .DESCRIPTION
    Copies the database with SQLite's online backup API, never as a file copy: a file copy of a
    database that a running server writes to can be torn. The backup is one self-contained
    file, written under a temporary name and renamed when complete, and it never overwrites an
    existing file. The result names the backup with its size, SHA-256, migration revision and
    number of flow runs, so a runbook can check it.

    Without -Path, the database is the one that the target interpreter's Prefect settings name
    (PREFECT_SERVER_DATABASE_CONNECTION_URL, or PREFECT_HOME\prefect.db by default), read in
    the environment of -PrefectHome. A PostgreSQL database is refused with the pg_dump command
    to use instead.

    .PARAMETER Path
    The SQLite database file. By default, the one Prefect's settings name.

    .PARAMETER PrefectHome
    The PREFECT_HOME whose settings name the database, when -Path is not given.

    .PARAMETER PythonPath
    The interpreter that runs the Prefect server; by default the backend's own.

    .PARAMETER Destination
    The backup file, or an existing folder to write it into. By default a 'backups' folder
    beside the database, with the UTC time in the file name. A file that exists already is
    never overwritten: the command refuses it (PrefectWin.InvalidArgument, target
    'destination') before anything is written, with -WhatIf too.

    .EXAMPLE
    Backup-PrefectDatabase -PrefectHome 'C:\ProgramData\Prefect'

    Backs up C:\ProgramData\Prefect\prefect.db to C:\ProgramData\Prefect\backups\prefect-<time>.db.

    .EXAMPLE
    Backup-PrefectDatabase -Path 'D:\Prefect\prefect.db' -Destination '\\backup01\prefect' -WhatIf

    Shows where the backup would go, and changes nothing.

    .INPUTS
    None.

    .OUTPUTS
    PrefectWin.DatabaseBackup

    .LINK
    Restore-PrefectDatabase
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    [OutputType('PrefectWin.DatabaseBackup')]
    param(
        [Parameter(Position = 0)]
        [string] $Path,

        [Parameter()]
        [string] $PrefectHome,

        [Parameter()]
        [string] $PythonPath,

        [Parameter()]
        [string] $Destination
    )
    $parameters = ConvertTo-PrefectParameter -BoundParameters $PSBoundParameters
    Invoke-PrefectPlan -Cmdlet $PSCmdlet -Command 'database.backup' -Parameters $parameters -Target 'Prefect database' |
        ConvertTo-PrefectObject -TypeName 'DatabaseBackup'
}
