function Stop-PrefectBackend {
    <#
    .SYNOPSIS
    Ends a backend: closes its stdin ('prefectwin serve' exits at EOF), waits up to -TimeoutSec,
    then kills what is left with its child processes (where .NET can: PowerShell 7).

    .DESCRIPTION
    Records how the process ended in the backend's Ended ('exited with code N' or 'was
    stopped') for the error messages, disposes of it, and forgets it when it is the module's
    backend, so that the next request starts a new one. -TimeoutSec 0 kills at once.

    .PARAMETER Backend
    The backend, from Start-PrefectBackend.

    .PARAMETER TimeoutSec
    How long to wait for the backend to exit by itself.
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSUseShouldProcessForStateChangingFunctions', '', Justification = 'Stops the module''s own backend process; the calling cmdlet owns ShouldProcess.')]
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)] [object] $Backend,
        [Parameter()] [ValidateRange(0, 3600)] [int] $TimeoutSec = 10
    )
    if ([object]::ReferenceEquals($script:PrefectWinBackend, $Backend)) {
        $script:PrefectWinBackend = $null
    }
    $process = $Backend.Process
    try {
        if ($TimeoutSec -gt 0 -and -not $process.HasExited) {
            $process.StandardInput.Close()
        }
    } catch {
        Write-Debug -Message "Closing the PrefectWin backend's stdin: $($_.Exception.Message)"
    }
    try {
        if ($process.WaitForExit($TimeoutSec * 1000)) {
            $Backend.Ended = "exited with code $($process.ExitCode)"
        } else {
            Write-Debug -Message "Stopping the PrefectWin backend (process $($Backend.ProcessId))."
            if ($null -ne $process.GetType().GetMethod('Kill', [System.Type[]]@([bool]))) {
                $process.Kill($true)
            } else {
                $process.Kill()
            }
        }
    } catch {
        # A pipe that is already broken, or a process that is gone or exiting: nothing is left
        # to stop, and the error that matters is the caller's.
        Write-Debug -Message "Stopping the PrefectWin backend: $($_.Exception.Message)"
    } finally {
        $process.Dispose()
    }
}
