function Invoke-PrefectBackend {
    <#
    .SYNOPSIS
    Sends one request to the Python backend and returns its result: the bridge.

    .DESCRIPTION
    Every request goes over the session protocol of docs/protocol.md ('prefectwin serve'): one
    JSON line with an id, carrying the prompt's location (cwd) and this process's whole current
    environment (environment), so the answer is the one a fresh process started here would give.
    The module keeps one backend per runspace (Start-PrefectBackend starts it on first use; it
    ends when the module is removed or PowerShell exits). With $env:PREFECTWIN_BACKEND set to
    'PerCall', each request gets a backend of its own that serves it and exits.
      - ok:true  -> the result is written to the pipeline (a list is unrolled).
      - ok:false -> a non-terminating ErrorRecord PrefectWin.<code> is written through the
                    calling cmdlet, and nothing is returned.
      - no answer -> a terminating error: PrefectWin.BridgeFailed (the backend never answered,
        or its answer is no protocol-1 response), PrefectWin.Timeout (stopped after
        -TimeoutSec) or PrefectWin.SessionLost (a backend that had answered before died with
        this request, whose effect is unknown). The backend is stopped; the next call starts
        a new one.

    .PARAMETER Cmdlet
    The public cmdlet's $PSCmdlet: errors are written and thrown through it, and its location
    is the request's cwd.

    .PARAMETER Command
    The backend command, 'family.verb'.

    .PARAMETER Parameters
    The command's parameters with their camelCase wire names. $null values are left out.

    .PARAMETER WhatIf
    Sets the request's whatIf flag: a state-changing command returns its plan and changes
    nothing. This is the protocol flag, not ShouldProcess; Invoke-PrefectPlan does ShouldProcess.

    .PARAMETER Apply
    Sent as the request's top-level 'apply' field when given (apply a confirmed plan by id).

    .PARAMETER TimeoutSec
    How long the backend may take to answer before it is stopped, with its child processes.
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSUseSupportsShouldProcess', '', Justification = '-WhatIf is the protocol whatIf flag; the calling cmdlet owns ShouldProcess (see Invoke-PrefectPlan).')]
    [CmdletBinding()]
    [OutputType([object])]
    param(
        [Parameter(Mandatory = $true)] [System.Management.Automation.PSCmdlet] $Cmdlet,
        [Parameter(Mandatory = $true)] [ValidatePattern('^[a-z][A-Za-z0-9]*\.[a-z][A-Za-z0-9-]*$')] [string] $Command,
        [Parameter()] [System.Collections.IDictionary] $Parameters = @{},
        [Parameter()] [switch] $WhatIf,
        [Parameter()] [System.Collections.IDictionary] $Apply,
        [Parameter()] [ValidateRange(1, 86400)] [int] $TimeoutSec = 600
    )
    # The caller's $ErrorActionPreference and the like, which a module function does not see.
    Import-PrefectCallerPreference -Cmdlet $Cmdlet
    # Windows PowerShell's -Debug means 'Inquire', which would prompt once per backend line.
    if ($DebugPreference -eq 'Inquire') {
        $DebugPreference = 'Continue'
    }
    Write-Debug -Message ("PrefectWin request: {0} with parameters [{1}], whatIf {2}" -f $Command, (@($Parameters.Keys) -join ', '), [bool]$WhatIf)
    $backend = $script:PrefectWinBackend
    if ($null -ne $backend -and $backend.Process.HasExited) {
        Write-Warning -Message ("The PrefectWin backend (process {0}) exited with code {1} between requests; starting a new one." -f $backend.Process.Id, $backend.Process.ExitCode)
        Stop-PrefectBackend -Backend $backend
        $backend = $null
    }
    # A request made while another is being read (from a nested prompt) gets a backend of its own.
    $perCall = $env:PREFECTWIN_BACKEND -eq 'PerCall' -or ($null -ne $backend -and $backend.Busy)
    if ($perCall -or $null -eq $backend) {
        $backend = Start-PrefectBackend -Cmdlet $Cmdlet -Command $Command
        if (-not $perCall) {
            $script:PrefectWinBackend = $backend
        }
    }
    $backend.NextId++
    $location = $Cmdlet.SessionState.Path.CurrentFileSystemLocation.ProviderPath
    $line = ConvertTo-PrefectRequestJson -Command $Command -Parameters $Parameters -WhatIf:$WhatIf -Apply $Apply -Location $location -RequestId $backend.NextId -Environment ([System.Environment]::GetEnvironmentVariables())
    $reply = $null
    try {
        $reply = Receive-PrefectBackendAnswer -Backend $backend -Line $line -TimeoutSec $TimeoutSec -CloseInput:$perCall
    } finally {
        # Without an answer the backend's state is unknown (and a late answer must not be taken
        # for the next request's): it goes, whatever stopped the read (Ctrl-C included).
        # A backend still at work (time-out, Ctrl-C) is killed at once; one that has answered, or
        # is on its way out, gets a moment to exit by itself.
        if ($null -eq $reply -or $reply.Code -eq 'Timeout') {
            Stop-PrefectBackend -Backend $backend -TimeoutSec 0
        } elseif ($perCall -or $null -eq $reply.Answer) {
            Stop-PrefectBackend -Backend $backend -TimeoutSec 2
        }
    }
    if ($null -ne $reply.Problem) {
        $Cmdlet.ThrowTerminatingError((New-PrefectBridgeError -Code $reply.Code -Command $Command -Problem $reply.Problem -Backend $backend))
    }
    $backend.Requests++
    ConvertFrom-PrefectResponse -Cmdlet $Cmdlet -Command $Command -Response $reply.Answer -Backend $backend
}
