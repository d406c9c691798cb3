function ConvertFrom-PrefectResponse {
    <#
    .SYNOPSIS
    Turns the backend's answer into results, a written error, or a terminating bridge failure.

    .DESCRIPTION
    ok:true writes the result (a list is unrolled). ok:false writes a non-terminating
    PrefectWin.<code> ErrorRecord through the cmdlet and returns nothing. Anything that is not a
    protocol-1 response (an ok:false one without the code and message of its error included)
    throws PrefectWin.BridgeFailed with the tail of the backend's stderr.
    The Pester contract tests call this function from their Invoke-PrefectBackend mock, so the
    fixtures' responses go through the same code as real ones.

    .PARAMETER Cmdlet
    The public cmdlet's $PSCmdlet.

    .PARAMETER Command
    The command that was sent, for messages.

    .PARAMETER Response
    The answer line as ConvertFrom-Json read it (Receive-PrefectBackendAnswer).

    .PARAMETER Backend
    The backend that answered (Start-PrefectBackend), or a table with its Python and Tail: the
    interpreter and the last stderr lines a bridge failure quotes.
    #>
    [CmdletBinding()]
    [OutputType([object])]
    param(
        [Parameter(Mandatory = $true)] [System.Management.Automation.PSCmdlet] $Cmdlet,
        [Parameter(Mandatory = $true)] [string] $Command,
        [Parameter(Mandatory = $true)] [AllowNull()] [object] $Response,
        [Parameter()] [object] $Backend = @{}
    )
    $protocol = Get-PrefectField -InputObject $Response -Name 'protocol'
    $ok = Get-PrefectField -InputObject $Response -Name 'ok'
    $errorObject = Get-PrefectField -InputObject $Response -Name 'error'
    # ok:false comes with its error's code and message (errors.py), which the record is made of.
    $answered = $ok -is [bool] -and ($ok -or ((Get-PrefectField -InputObject $errorObject -Name 'code') -and (Get-PrefectField -InputObject $errorObject -Name 'message')))
    $problem = $null
    if ($null -eq $protocol -or -not $answered) {
        $problem = 'its answer is not a PrefectWin response'
    } elseif (1 -ne $protocol) {
        $problem = "it speaks protocol $protocol and this module speaks protocol 1"
    }
    if ($null -ne $problem) {
        $Cmdlet.ThrowTerminatingError((New-PrefectBridgeError -Code 'BridgeFailed' -Command $Command -Problem $problem -Backend $Backend))
    }
    Write-Debug -Message "PrefectWin backend exit code: $(Get-PrefectField -InputObject $Response -Name 'exitCode')"
    if ($ok) {
        $result = Get-PrefectField -InputObject $Response -Name 'result'
        if ($null -ne $result) {
            Write-Output -InputObject $result
        }
        return
    }
    $Cmdlet.WriteError((New-PrefectErrorRecord -ErrorObject $errorObject))
}
