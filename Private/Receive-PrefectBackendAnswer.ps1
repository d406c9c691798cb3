function Receive-PrefectBackendAnswer {
    <#
    .SYNOPSIS
    Writes one request line to a backend and reads its stdout up to the answer.

    .DESCRIPTION
    The backend writes, per request, its events (stdout lines with the request's id and no
    'ok') and then the answer (the line with 'ok' and the id, or id null: the backend could not
    read the id of a malformed line, and only this request is in flight). Events are relayed in
    order as they arrive (Write-PrefectBackendEvent), so all of them come before the result;
    any other line is skipped with Write-Debug. stderr is crash output only: its lines go to
    Write-Debug and the backend's Tail as they arrive. Task.WaitAny wakes up for whichever
    stream has a line, in slices short enough for Ctrl-C to stop the call.
    Returns the Answer (the answer line as ConvertFrom-Json reads it), or Code (SessionLost or
    Timeout) and Problem.

    .PARAMETER Backend
    The backend, from Start-PrefectBackend.

    .PARAMETER Line
    The request, one line of JSON with its id.

    .PARAMETER TimeoutSec
    How long the answer may take.

    .PARAMETER CloseInput
    Close the backend's stdin after the request: a backend for one request only.
    #>
    [CmdletBinding()]
    [OutputType([System.Management.Automation.PSCustomObject])]
    param(
        [Parameter(Mandatory = $true)] [object] $Backend,
        [Parameter(Mandatory = $true)] [string] $Line,
        [Parameter(Mandatory = $true)] [int] $TimeoutSec,
        [Parameter()] [switch] $CloseInput
    )
    $requestId = [string]$Backend.NextId
    $activities = New-Object -TypeName 'System.Collections.Generic.List[string]'
    $deadline = [System.DateTime]::UtcNow.AddSeconds($TimeoutSec)
    $Backend.Busy = $true
    try {
        try {
            $bytes = (New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false).GetBytes($Line + "`n")
            $Backend.Process.StandardInput.BaseStream.Write($bytes, 0, $bytes.Length)
            $Backend.Process.StandardInput.BaseStream.Flush()
            if ($CloseInput) {
                $Backend.Process.StandardInput.Close()
            }
        } catch [System.IO.IOException], [System.ObjectDisposedException], [System.InvalidOperationException] {
            # The backend exited before it read the request: what stdout and stderr hold says why.
            Write-Debug -Message "The PrefectWin backend did not take the request: $($_.Exception.Message)"
        }
        while ($true) {
            while ($null -ne $Backend.Stderr -and $Backend.Stderr.IsCompleted) {
                $text = $Backend.Stderr.Result
                $Backend.Stderr = $null
                if ($null -ne $text) {
                    Write-Debug -Message "PrefectWin backend stderr: $text"
                    $Backend.Tail.Enqueue($text)
                    if ($Backend.Tail.Count -gt 20) {
                        $null = $Backend.Tail.Dequeue()
                    }
                    $Backend.Stderr = $Backend.Process.StandardError.ReadLineAsync()
                }
            }
            if ($Backend.Stdout.IsCompleted) {
                $text = $Backend.Stdout.Result
                if ($null -eq $text) {
                    # Its last words on stderr come with the process's end; wait for them briefly.
                    if ($null -ne $Backend.Stderr -and $Backend.Stderr.Wait(2000)) {
                        continue
                    }
                    return [PSCustomObject]@{ Code = 'SessionLost'; Problem = 'closed its stdout'; Answer = $null }
                }
                $Backend.Stdout = $Backend.Process.StandardOutput.ReadLineAsync()
                try {
                    $record = ConvertFrom-Json -InputObject $text -ErrorAction Stop
                } catch {
                    $record = $null
                }
                $id = Get-PrefectField -InputObject $record -Name 'id'
                $ok = Get-PrefectField -InputObject $record -Name 'ok'
                if ($null -ne $ok -and ($null -eq $id -or [string]$id -eq $requestId)) {
                    return [PSCustomObject]@{ Code = $null; Problem = $null; Answer = $record }
                }
                if ($null -eq $ok -and [string]$id -eq $requestId) {
                    Write-PrefectBackendEvent -Record $record -Activity $activities
                } else {
                    Write-Debug -Message "Skipped a PrefectWin backend line that does not belong to request ${requestId}: $text"
                }
                continue
            }
            $left = ($deadline - [System.DateTime]::UtcNow).TotalMilliseconds
            if ($left -le 0) {
                return [PSCustomObject]@{ Code = 'Timeout'; Problem = "did not finish within $TimeoutSec seconds"; Answer = $null }
            }
            $pending = @(@($Backend.Stdout, $Backend.Stderr) | Where-Object -FilterScript { $null -ne $_ })
            $null = [System.Threading.Tasks.Task]::WaitAny([System.Threading.Tasks.Task[]]$pending, [int][System.Math]::Min($left, 500))
        }
    } finally {
        $Backend.Busy = $false
        foreach ($name in $activities) {
            Write-Progress -Activity $name -Id ($script:PrefectWinProgressBaseId + $activities.IndexOf($name)) -Completed
        }
    }
}
