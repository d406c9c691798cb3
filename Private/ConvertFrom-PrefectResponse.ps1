function ConvertFrom-PrefectResponse {
    <#
    .SYNOPSIS
    Turns the backend's stdout into results, a written error, or a terminating bridge failure.

    .DESCRIPTION
    ok:true writes the result (a list is unrolled). ok:false writes a non-terminating
    PrefectWin.<code> ErrorRecord through the cmdlet and returns nothing. Anything that is not a
    protocol-1 response (an ok:false one without the code and message of its error included) throws PrefectWin.BridgeFailed with the tail of the backend's stderr.
    The Pester contract tests call this function from their Invoke-PrefectBackend mock, so the
    fixtures' responses go through the same code as real ones.

    .PARAMETER Cmdlet
    The public cmdlet's $PSCmdlet.

    .PARAMETER Command
    The command that was sent, for messages.

    .PARAMETER Stdout
    Everything the backend wrote to stdout.

    .PARAMETER ExitCode
    The backend's exit code: 0 ok, 1 handled error, 2 invalid request.

    .PARAMETER Python
    The interpreter that ran the backend (from Resolve-PrefectPython), for messages.

    .PARAMETER StderrTail
    The last lines of the backend's stderr, quoted when the bridge fails.
    #>
    [CmdletBinding()]
    [OutputType([object])]
    param(
        [Parameter(Mandatory = $true)] [System.Management.Automation.PSCmdlet] $Cmdlet,
        [Parameter(Mandatory = $true)] [string] $Command,
        [Parameter()] [AllowNull()] [AllowEmptyString()] [string] $Stdout,
        [Parameter()] [int] $ExitCode = 0,
        [Parameter()] [AllowNull()] [object] $Python,
        [Parameter()] [AllowNull()] [AllowEmptyCollection()] [string[]] $StderrTail = @()
    )
    $response = $null
    $problem = $null
    if ([string]::IsNullOrWhiteSpace($Stdout)) {
        $problem = "it wrote nothing to stdout (exit code $ExitCode)"
    } else {
        try {
            $response = ConvertFrom-Json -InputObject $Stdout -ErrorAction Stop
        } catch {
            $problem = "its stdout is not JSON (exit code $ExitCode)"
        }
    }
    $protocol = Get-PrefectField -InputObject $response -Name 'protocol'
    $ok = Get-PrefectField -InputObject $response -Name 'ok'
    $errorObject = Get-PrefectField -InputObject $response -Name 'error'
    # ok:false comes with its error's code and message (errors.py), which the record is made of.
    $answered = $ok -is [bool] -and ($ok -or ((Get-PrefectField -InputObject $errorObject -Name 'code') -and (Get-PrefectField -InputObject $errorObject -Name 'message')))
    if ($null -eq $problem -and ($null -eq $protocol -or -not $answered)) {
        $problem = "its stdout is not a PrefectWin response (exit code $ExitCode)"
    } elseif ($null -eq $problem -and 1 -ne $protocol) {
        $problem = "it speaks protocol $protocol and this module speaks protocol 1"
    }
    if ($null -ne $problem) {
        $Cmdlet.ThrowTerminatingError((New-PrefectBridgeError -Code 'BridgeFailed' -Command $Command -Problem $problem -Backend @{ Python = $Python; Tail = $StderrTail }))
    }
    Write-Debug -Message "PrefectWin backend exit code: $ExitCode"
    if ($ok) {
        $result = Get-PrefectField -InputObject $response -Name 'result'
        if ($null -ne $result) {
            Write-Output -InputObject $result
        }
        return
    }
    $Cmdlet.WriteError((New-PrefectErrorRecord -ErrorObject $errorObject))
}
