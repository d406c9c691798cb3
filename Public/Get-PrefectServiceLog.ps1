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

    -Wait keeps reading what the services write, until Ctrl-C. It follows every service named
    or piped (Get-PrefectService | Get-PrefectServiceLog -Wait) in one stream: their entries
    come as they are written, merged by time, each with its Service. It asks the backend again
    about once a second with a cursor (each file's identity and offset), so every line comes
    once, and it carries on when NSSM rotates a file (renamed, replaced or truncated); a
    session (Start-PrefectSession) makes each poll cheap. A line still being written (no line
    break yet) comes once it is complete.

    .PARAMETER Name
    The PrefectWin services whose logs to read (Windows). Several names, or services from the
    pipeline, are read one by one; with -Wait they are followed together.

    .PARAMETER Path
    Log files to read instead of a service's, on any operating system. A file named like
    NSSM's stderr log (name.stderr.log, or name.err.log) is the Stderr stream; any other is
    Stdout.

    .PARAMETER Stream
    Only these logs: Stdout, Stderr, EventLog (NSSM's events). Default: all of them.

    .PARAMETER Tail
    Only the last N entries of each service (with -Wait: the last N before following; default
    10 then).

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

    .EXAMPLE
    Get-PrefectService | Get-PrefectServiceLog -Stream Stderr -Wait | Format-Table -Property Time, Service, Level, Message

    Follows the stderr logs of every PrefectWin service at once, each entry naming the service
    it is from, until Ctrl-C.

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
        [string[]] $Name,

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
    begin {
        # -Wait follows every service given or piped, so they are collected and followed in end.
        $followed = New-Object -TypeName 'System.Collections.Generic.List[string]'
    }
    process {
        $parameters = ConvertTo-PrefectParameter -BoundParameters $PSBoundParameters
        $parameters.Remove('wait')
        if ($Wait) {
            foreach ($item in @($Name)) {
                if ($item -and -not $followed.Contains($item)) {
                    $followed.Add($item)
                }
            }
            return
        }
        Invoke-PrefectBackend -Cmdlet $PSCmdlet -Command 'service.log' -Parameters $parameters |
            ForEach-Object -Process { @($_.entries) } | ConvertTo-PrefectObject -TypeName 'ServiceLogEntry'
    }
    end {
        if (-not $Wait) {
            return
        }
        $parameters = ConvertTo-PrefectParameter -BoundParameters $PSBoundParameters
        $parameters.Remove('wait')
        if ($PSCmdlet.ParameterSetName -eq 'Name') {
            $parameters['name'] = $followed.ToArray()
        }
        if (-not $PSBoundParameters.ContainsKey('Tail') -and -not $PSBoundParameters.ContainsKey('Cursor')) {
            $parameters['tail'] = 10
        }
        # One request for all of them: the backend merges their entries by time, and one
        # cursor carries on after all of them, until Ctrl-C.
        while ($true) {
            $answer = Invoke-PrefectBackend -Cmdlet $PSCmdlet -Command 'service.log' -Parameters $parameters
            if ($null -eq $answer) {
                return
            }
            @($answer.entries) | ConvertTo-PrefectObject -TypeName 'ServiceLogEntry'
            $parameters['cursor'] = $answer.cursor
            $parameters.Remove('tail')
            Start-Sleep -Milliseconds 1000
        }
    }
}
