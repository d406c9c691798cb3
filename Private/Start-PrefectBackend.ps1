function Start-PrefectBackend {
    <#
    .SYNOPSIS
    Starts '<python> [prefix args] -X utf8 -m prefectwin serve': PrefectWin's one process start.

    .DESCRIPTION
    The argument list is constant: nothing from the user ever goes into it (parameters, paths
    and secrets travel in the requests on stdin, so they never show up in a process listing).
    The working directory is the module's own folder, never the user's location: with -m,
    Python puts its start folder first on sys.path, and a stray pydantic.py where the user
    stands would shadow the backend (the request's cwd carries the location instead).
    Returns the backend's state: its process, one pending ReadLineAsync task per output stream
    (a StreamReader allows one at a time, so they are kept from request to request), the last
    stderr lines (crash output, quoted by bridge errors) and its counters. A process that cannot
    be started is a terminating PrefectWin.BridgeFailed through -Cmdlet.

    .PARAMETER Cmdlet
    The public cmdlet's $PSCmdlet.

    .PARAMETER Command
    The command the backend is started for, for the error message.
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSUseShouldProcessForStateChangingFunctions', '', Justification = 'Starts the module''s own backend process; the calling cmdlet owns ShouldProcess.')]
    [CmdletBinding()]
    [OutputType([System.Management.Automation.PSCustomObject])]
    param(
        [Parameter(Mandatory = $true)] [System.Management.Automation.PSCmdlet] $Cmdlet,
        [Parameter(Mandatory = $true)] [string] $Command
    )
    $python = Resolve-PrefectPython -Cmdlet $Cmdlet
    $utf8 = New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false
    $startInfo = New-Object -TypeName System.Diagnostics.ProcessStartInfo
    $startInfo.FileName = $python.Path
    # Windows PowerShell 5.1's ProcessStartInfo has no ArgumentList; the arguments are constant
    # and hold no space, so they need no quoting.
    $startInfo.Arguments = (@($python.PrefixArgs) + @('-X', 'utf8', '-m', 'prefectwin', 'serve')) -join ' '
    $startInfo.UseShellExecute = $false
    $startInfo.CreateNoWindow = $true
    $startInfo.RedirectStandardInput = $true
    $startInfo.RedirectStandardOutput = $true
    $startInfo.RedirectStandardError = $true
    $startInfo.StandardOutputEncoding = $utf8
    $startInfo.StandardErrorEncoding = $utf8
    $startInfo.WorkingDirectory = $script:PrefectWinModuleRoot
    $process = New-Object -TypeName System.Diagnostics.Process
    $process.StartInfo = $startInfo
    try {
        $null = $process.Start()
    } catch {
        $process.Dispose()
        $Cmdlet.ThrowTerminatingError((New-PrefectBridgeError -Code 'BridgeFailed' -Command $Command -Problem "it could not be started: $($_.Exception.GetBaseException().Message)" -Backend @{ Python = $python }))
    }
    $script:PrefectWinBackendStarts++
    Write-Verbose -Message ("PrefectWin backend started (process {0})." -f $process.Id)
    [PSCustomObject]@{
        PSTypeName = 'PrefectWin.Backend'
        Python = $python
        Process = $process
        ProcessId = $process.Id
        StartTime = [System.DateTime]::Now
        Stdout = $process.StandardOutput.ReadLineAsync()
        Stderr = $process.StandardError.ReadLineAsync()
        Tail = New-Object -TypeName 'System.Collections.Generic.Queue[string]'
        Busy = $false
        NextId = 0
        Requests = 0
        Ended = 'was stopped'
        Version = $null
    }
}
