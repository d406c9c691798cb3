function Get-PrefectServiceLog {
    <#
    .SYNOPSIS
    Reads the stdout and stderr logs of a Prefect service as entries with time, level, logger
    and message, and follows them with -Wait.

    .DESCRIPTION
    Reads the log files that NSSM writes for a PrefectWin service (LogPaths in
    Get-PrefectService), or any log files given with -Path, and parses Prefect's log format
    (HH:MM:SS.mmm | LEVEL | logger - message). Each entry is a PrefectWin.ServiceLogEntry with
    Time, Level, Logger, Message, Stream (Stdout, Stderr or EventLog), Service, Path and Raw.
    A traceback or another multi-line message is attached to the entry it belongs to; a line
    in no known format (the server's banner, print output) is an entry of its own whose Raw
    property holds the line.

    Prefect's lines carry the time of day only; the date comes from the file's last write.
    With -Name on Windows, NSSM's own events for the service (starts, exits, restarts) from
    the Application event log are merged in by time, as Stream EventLog.

    Without -Tail and -Since, the current log files are read. -Tail and -Since also read
    NSSM's rotated copies (<name>.stderr-<time>.log) as far as needed.

    -Wait keeps reading what the service writes, until Ctrl-C. It asks the backend again about
    once a second with a cursor (the file's identity and offset), so it carries on when NSSM
    rotates the file (renamed, replaced or truncated); a session (Start-PrefectSession) makes
    each poll cheap.

    .PARAMETER Name
    The PrefectWin service whose logs to read (Windows).

    .PARAMETER Path
    Log files to read instead of a service's, on any operating system. A file named like
    NSSM's stderr log (name.stderr.log, or name.err.log) is the Stderr stream; any other is
    Stdout.

    .PARAMETER Stream
    Only these logs: Stdout, Stderr, EventLog (NSSM's events). Default: all of them.

    .PARAMETER Tail
    Only the last N entries (with -Wait: the last N before following; default 10 then).

    .PARAMETER Since
    Only entries written at or after this time.

    .PARAMETER Level
    Only entries at or above this level: Debug, Info, Warning, Error or Critical. Lines with
    no level (raw lines) are left out when -Level is given.

    .PARAMETER Cursor
    Carries on after the entries a previous call returned; -Wait passes it itself.

    .PARAMETER Wait
    Keeps following the logs, across rotation, until Ctrl-C.

    .EXAMPLE
    Get-PrefectServiceLog -Name PrefectServer -Tail 50

    The last 50 entries of the server's stdout and stderr logs and NSSM's events, by time.

    .EXAMPLE
    Get-PrefectServiceLog -Name PrefectWorker -Stream Stderr -Level Error -Since (Get-Date).AddHours(-6) | Format-List

    The worker's errors of the last six hours, each with its traceback in Message.

    .EXAMPLE
    Get-PrefectServiceLog -Path 'C:\ProgramData\Prefect\logs\PrefectServer.stderr.log' -Tail 5 -Wait

    Shows the last five entries of a log file, then every new one as the server writes it,
    until Ctrl-C.

    .INPUTS
    Objects with a Name property, such as PrefectWin.ServiceInfo.

    .OUTPUTS
    PrefectWin.ServiceLogEntry

    .LINK
    Get-PrefectService
    #>
    [CmdletBinding(DefaultParameterSetName = 'Name')]
    [OutputType('PrefectWin.ServiceLogEntry')]
    param(
        [Parameter(Mandatory = $true, Position = 0, ParameterSetName = 'Name', ValueFromPipelineByPropertyName = $true)]
        [string] $Name,

        [Parameter(Mandatory = $true, ParameterSetName = 'Path')]
        [string[]] $Path,

        [Parameter()]
        [ValidateSet('Stdout', 'Stderr', 'EventLog')]
        [string[]] $Stream,

        [Parameter()]
        [ValidateRange(0, 1000000)]
        [int] $Tail,

        [Parameter()]
        [datetime] $Since,

        [Parameter()]
        [ValidateSet('Debug', 'Info', 'Warning', 'Error', 'Critical')]
        [string] $Level,

        [Parameter(DontShow = $true)]
        [string] $Cursor,

        [Parameter()]
        [switch] $Wait
    )
    process {
        $parameters = ConvertTo-PrefectParameter -BoundParameters $PSBoundParameters
        $parameters.Remove('wait')
        if ($Wait -and -not $PSBoundParameters.ContainsKey('Tail') -and -not $PSBoundParameters.ContainsKey('Cursor')) {
            $parameters['tail'] = 10
        }
        while ($true) {
            $answer = Invoke-PrefectBackend -Cmdlet $PSCmdlet -Command 'service.log' -Parameters $parameters
            if ($null -eq $answer) {
                return
            }
            @($answer.entries) | ConvertTo-PrefectObject -TypeName 'ServiceLogEntry'
            if (-not $Wait) {
                return
            }
            $parameters['cursor'] = $answer.cursor
            $parameters.Remove('tail')
            Start-Sleep -Milliseconds 1000
        }
    }
}
