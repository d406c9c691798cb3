# The persistent backend session that Start-PrefectSession opens, or $null while none is open.
# It lives in the module's scope, so each runspace that imports PrefectWin has its own.
$script:PrefectWinSession = $null

# The Write-Progress Id of a request's first activity; the next ones count up from it. Callers
# number their own bars from 0 (Write-Progress's default Id), and a record with the same Id
# would overwrite, and on completion close, the caller's bar. 0x50570000 ('PW') is far from
# anything a script numbers by hand.
$script:PrefectWinProgressBaseId = 0x50570000

function Invoke-PrefectBackend {
    <#
    .SYNOPSIS
    Sends one request to the Python backend and returns its result: the bridge.

    .DESCRIPTION
    This file is the only PowerShell code in PrefectWin that starts a process
    (New-PrefectBackendProcess). Every request is the JSON envelope
    {"protocol":1,"command":...,"params":{...},"whatIf":...,"cwd":...} of docs/protocol.md, where
    cwd is the prompt's file-system location: Python itself always starts in the module's own
    folder, so that a stray pydantic.py or prefectwin/ folder where the user stands cannot shadow
    the backend (with -m, Python puts its start folder first on sys.path).

    Without a session, one process '<python> [prefix args] -X utf8 -m prefectwin rpc' serves the
    request: the request goes to its stdin, which is then closed, its stderr JSON Lines are
    relayed as they arrive (Write-Verbose, Write-Warning, Write-Information, Write-Debug,
    Write-Progress), and its stdout holds the one JSON response.

    With a session (Start-PrefectSession), the request goes as one line with an "id" to the
    session's 'prefectwin serve' process, and the answer is the stdout line with that id (see
    Invoke-PrefectSessionRequest).
      - ok:true  -> the result is written to the pipeline (a list is unrolled).
      - ok:false -> a non-terminating ErrorRecord PrefectWin.<code> is written through the
                    calling cmdlet, and nothing is returned.
      - no protocol response (Python missing or crashed, protocol mismatch), a time-out, or a
        session backend that died with the request -> a terminating error:
        PrefectWin.BridgeFailed, PrefectWin.Timeout or PrefectWin.SessionLost.

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
    The request's apply field, {planId, confirm, plan}: which shown plan to run, and which of its
    actions were confirmed (Invoke-PrefectPlan).

    .PARAMETER TimeoutSec
    How long the backend may take before it is stopped (with its child processes on
    PowerShell 7). A session's backend is stopped too, and the next call starts a new one.
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSUseSupportsShouldProcess', '', Justification = '-WhatIf is the protocol whatIf flag; the calling cmdlet owns ShouldProcess (see Invoke-PrefectPlan).')]
    [CmdletBinding()]
    [OutputType([object])]
    param(
        [Parameter(Mandatory = $true)]
        [System.Management.Automation.PSCmdlet] $Cmdlet,

        [Parameter(Mandatory = $true)]
        [ValidatePattern('^[a-z][A-Za-z0-9]*\.[a-z][A-Za-z0-9-]*$')]
        [string] $Command,

        [Parameter()]
        [System.Collections.IDictionary] $Parameters = @{},

        [Parameter()]
        [switch] $WhatIf,

        [Parameter()]
        [hashtable] $Apply,

        [Parameter()]
        [ValidateRange(1, 86400)]
        [int] $TimeoutSec = 600
    )
    # The caller's $ErrorActionPreference and the like, which a module function does not see.
    Import-PrefectCallerPreference -Cmdlet $Cmdlet
    # Windows PowerShell's -Debug means 'Inquire', which would prompt once per backend line.
    if ($DebugPreference -eq 'Inquire') {
        $DebugPreference = 'Continue'
    }
    # Relative -PythonPath or -PrefectHome values mean what they mean at the prompt.
    $location = $Cmdlet.SessionState.Path.CurrentFileSystemLocation.ProviderPath
    Write-Debug -Message ("PrefectWin request: {0} with parameters [{1}], whatIf {2}" -f $Command, (@($Parameters.Keys) -join ', '), [bool]$WhatIf)

    $session = $script:PrefectWinSession
    if ($null -ne $session) {
        if (-not $session.Busy) {
            Invoke-PrefectSessionRequest -Cmdlet $Cmdlet -Session $session -Command $Command -Parameters $Parameters -WhatIf:$WhatIf -Apply $Apply -Location $location -TimeoutSec $TimeoutSec
            return
        }
        # Only reachable if a request is made while another one is being read (never in
        # PrefectWin's own pipelines, which read the whole answer before writing output).
        Write-Debug -Message 'The PrefectWin session is busy with another request; this one gets a process of its own.'
    }

    $python = Resolve-PrefectPython -Cmdlet $Cmdlet
    $request = ConvertTo-PrefectRequestJson -Command $Command -Parameters $Parameters -WhatIf:$WhatIf -Apply $Apply -Location $location
    $utf8 = New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false
    $requestBytes = $utf8.GetBytes($request)

    $process = $null
    $failure = $null
    $stdout = $null
    $exitCode = -1
    $tail = New-Object -TypeName 'System.Collections.Generic.List[string]'
    $activities = New-Object -TypeName 'System.Collections.Generic.List[string]'
    try {
        $process = New-PrefectBackendProcess -Python $python -Mode 'rpc'
        Write-Verbose -Message ("PrefectWin backend {0} started (process {1})." -f $Command, $process.Id)
        $stdoutTask = $process.StandardOutput.ReadToEndAsync()
        $lineTask = $process.StandardError.ReadLineAsync()
        try {
            $process.StandardInput.BaseStream.Write($requestBytes, 0, $requestBytes.Length)
            $process.StandardInput.BaseStream.Flush()
            $process.StandardInput.Close()
        } catch [System.IO.IOException] {
            # The backend exited before reading its request; its stderr says why.
            Write-Debug -Message "The PrefectWin backend closed its stdin early: $($_.Exception.Message)"
        }

        $deadline = [System.DateTime]::UtcNow.AddSeconds($TimeoutSec)
        while ($null -ne $lineTask) {
            if ($lineTask.Wait(200)) {
                $line = $lineTask.Result
                if ($null -eq $line) {
                    $lineTask = $null
                    continue
                }
                Add-PrefectTailLine -Tail $tail -Line (Write-PrefectBackendEvent -Line $line -Activity $activities)
                $lineTask = $process.StandardError.ReadLineAsync()
            } elseif ([System.DateTime]::UtcNow -ge $deadline) {
                break
            }
        }
        $remaining = [int][System.Math]::Max(0, ($deadline - [System.DateTime]::UtcNow).TotalMilliseconds)
        if ($null -eq $lineTask -and $process.WaitForExit($remaining) -and $stdoutTask.Wait($remaining + 1000)) {
            $process.WaitForExit()
            $exitCode = $process.ExitCode
            $stdout = $stdoutTask.Result
        } else {
            $failure = New-PrefectErrorRecord -ErrorObject @{
                code = 'Timeout'
                category = 'OperationTimeout'
                message = "The PrefectWin backend did not finish '$Command' within $TimeoutSec seconds and was stopped."
                target = $Command
                remediation = 'Run the command again with -Verbose to see where it stopped.'
            }
        }
    } catch [System.Management.Automation.ActionPreferenceStopException], [System.Management.Automation.PipelineStoppedException] {
        throw
    } catch [System.ComponentModel.Win32Exception], [System.IO.IOException], [System.ObjectDisposedException] {
        # The process could not be started, or its pipes broke: the bridge itself failed.
        $failure = New-PrefectBridgeFailure -Command $Command -Problem "it could not be run: $(Get-PrefectRootCause -ErrorRecord $_)" -Python $python -StderrTail $tail
    } catch {
        # PowerShell's own error (relaying an event: a host that cannot prompt for
        # -WarningAction Inquire, or a bug in this module): the cmdlet fails with it as it is,
        # never disguised as a backend that needs './build.ps1 Install'.
        $failure = $_
    } finally {
        if ($null -ne $process) {
            Stop-PrefectBackendProcess -Process $process
            $process.Dispose()
        }
        Complete-PrefectProgress -Activity $activities
    }
    if ($null -ne $failure) {
        $Cmdlet.ThrowTerminatingError($failure)
    }
    ConvertFrom-PrefectResponse -Cmdlet $Cmdlet -Command $Command -Stdout $stdout -ExitCode $exitCode -Python $python -StderrTail $tail
}

function ConvertTo-PrefectRequestJson {
    <#
    .SYNOPSIS
    The request Invoke-PrefectBackend sends to the backend, as one line of compact JSON.

    .DESCRIPTION
    Leaves out $null parameters and turns values into plain JSON types first (see
    ConvertTo-PrefectJsonValue), so that Windows PowerShell 5.1's ConvertTo-Json keeps a
    one-element array an array and never serializes extended properties. A session request
    starts with its "id"; "cwd" comes last, and only when there is a location. The contract
    fixtures record requests without either (tests/test_contract.py says why).

    .PARAMETER Command
    The backend command, 'family.verb'.

    .PARAMETER Parameters
    The command's parameters with their camelCase wire names.

    .PARAMETER WhatIf
    The protocol's whatIf flag.

    .PARAMETER Apply
    The request's apply field: {planId, confirm, plan} (docs/protocol.md, Plans).

    .PARAMETER Location
    The caller's file-system location: the request's cwd.

    .PARAMETER RequestId
    The id of a session request (1 and up); 0 leaves the id out, as a one-shot request has none.
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSUseSupportsShouldProcess', '', Justification = '-WhatIf is the protocol whatIf flag.')]
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [string] $Command,

        [Parameter()]
        [System.Collections.IDictionary] $Parameters = @{},

        [Parameter()]
        [switch] $WhatIf,

        [Parameter()]
        [hashtable] $Apply,

        [Parameter()]
        [AllowNull()]
        [AllowEmptyString()]
        [string] $Location,

        [Parameter()]
        [ValidateRange(0, 2147483647)]
        [int] $RequestId = 0
    )
    $params = [ordered]@{}
    foreach ($key in @($Parameters.Keys | Sort-Object)) {
        $value = $Parameters[$key]
        if ($null -ne $value) {
            $params[[string]$key] = ConvertTo-PrefectJsonValue -Value $value
        }
    }
    $request = [ordered]@{}
    if ($RequestId -gt 0) {
        $request['id'] = $RequestId
    }
    $request['protocol'] = 1
    $request['command'] = $Command
    $request['params'] = $params
    $request['whatIf'] = [bool]$WhatIf
    if ($null -ne $Apply) {
        $request['apply'] = ConvertTo-PrefectJsonValue -Value $Apply
    }
    if ($Location) {
        $request['cwd'] = $Location
    }
    ConvertTo-Json -InputObject $request -Depth 20 -Compress
}

function ConvertTo-PrefectJsonValue {
    <#
    .SYNOPSIS
    One parameter value as plain JSON-ready data: string, number, bool, list or dictionary.

    .DESCRIPTION
    Unwraps PSObjects (so no extended properties such as PSPath reach the JSON), turns switches
    into booleans, SecureStrings into their text and PSCredentials into {userName, password}
    (the request travels over stdin, never the command line), enums into their names and dates
    into ISO 8601. A list is returned as ONE object, so a one-element list stays a list.
    #>
    [CmdletBinding()]
    [OutputType([object])]
    param(
        [Parameter()]
        [AllowNull()]
        [object] $Value
    )
    if ($null -eq $Value) {
        return $null
    }
    if ($Value -is [System.Management.Automation.PSObject]) {
        $Value = $Value.PSObject.BaseObject
    }
    if ($Value -is [string] -or $Value -is [char]) {
        # A new string instance: notes that Add-Member or Get-Content attached to the original
        # (PSPath and the like) must not be found again by Windows PowerShell's ConvertTo-Json.
        return [string]::new(([string]$Value).ToCharArray())
    }
    if ($Value -is [System.Management.Automation.SwitchParameter]) {
        return $Value.IsPresent
    }
    if ($Value -is [System.Security.SecureString]) {
        return (New-Object -TypeName System.Net.NetworkCredential -ArgumentList @('', $Value)).Password
    }
    if ($Value -is [System.Management.Automation.PSCredential]) {
        return [ordered]@{
            userName = $Value.UserName
            password = $Value.GetNetworkCredential().Password
        }
    }
    if ($Value -is [System.Enum]) {
        return $Value.ToString()
    }
    if ($Value -is [System.DateTime] -or $Value -is [System.DateTimeOffset]) {
        return $Value.ToString('o', [System.Globalization.CultureInfo]::InvariantCulture)
    }
    if ($Value -is [System.Collections.IDictionary]) {
        # Keys in a stable order: as given for an [ordered] table, sorted for a hashtable.
        $keys = @($Value.Keys)
        if ($Value -isnot [System.Collections.Specialized.OrderedDictionary]) {
            $keys = @($keys | Sort-Object)
        }
        $dictionary = [ordered]@{}
        foreach ($key in $keys) {
            $dictionary[[string]$key] = ConvertTo-PrefectJsonValue -Value $Value[$key]
        }
        return $dictionary
    }
    if ($Value -is [System.Management.Automation.PSCustomObject]) {
        $dictionary = [ordered]@{}
        foreach ($property in $Value.PSObject.Properties) {
            $dictionary[$property.Name] = ConvertTo-PrefectJsonValue -Value $property.Value
        }
        return $dictionary
    }
    if ($Value -is [System.Collections.IEnumerable]) {
        $items = New-Object -TypeName 'System.Collections.Generic.List[object]'
        foreach ($item in $Value) {
            $items.Add((ConvertTo-PrefectJsonValue -Value $item))
        }
        return , $items.ToArray()
    }
    $Value
}

function ConvertTo-PrefectArgumentString {
    <#
    .SYNOPSIS
    Quotes an argument list into one command line, the way the MSVC runtime splits it again.

    .DESCRIPTION
    Used on Windows PowerShell 5.1, whose ProcessStartInfo has no ArgumentList. An argument
    without spaces or quotes is kept as it is; any other is put in double quotes, with the
    backslashes before a quote (and at the end) doubled and each quote escaped.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [AllowEmptyCollection()]
        [AllowEmptyString()]
        [string[]] $Argument
    )
    $quoted = foreach ($item in $Argument) {
        if ($item.Length -gt 0 -and $item -notmatch '[\s"]') {
            $item
            continue
        }
        $text = '"'
        $backslashes = 0
        foreach ($character in $item.ToCharArray()) {
            if ($character -eq '\') {
                $backslashes++
                continue
            }
            if ($character -eq '"') {
                $text += ('\' * (2 * $backslashes + 1)) + '"'
            } else {
                $text += ('\' * $backslashes) + $character
            }
            $backslashes = 0
        }
        $text + ('\' * (2 * $backslashes)) + '"'
    }
    @($quoted) -join ' '
}

function Write-PrefectBackendEvent {
    <#
    .SYNOPSIS
    Relays one event line of the backend (stderr of a one-shot call, stdout of a session) to the
    matching PowerShell stream.

    .DESCRIPTION
    {"level":"verbose|warning|information|debug","message":...} goes to Write-Verbose,
    Write-Warning, Write-Information or Write-Debug; {"progress":{"activity","status","percent"}}
    goes to Write-Progress (one progress bar per activity, with an Id of the module's own range,
    $script:PrefectWinProgressBaseId and up, so the caller's bars are left alone); any other line
    goes to Write-Debug.
    Returns the line as text for the stderr tail that bridge failures quote.

    .PARAMETER Line
    One event line of the backend.

    .PARAMETER Activity
    The progress activities seen so far; their index, added to $script:PrefectWinProgressBaseId,
    is the Write-Progress Id.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [AllowEmptyString()]
        [string] $Line,

        [Parameter(Mandatory = $true)]
        [AllowEmptyCollection()]
        [System.Collections.Generic.List[string]] $Activity
    )
    $record = $null
    if ($Line.StartsWith('{')) {
        try {
            $record = ConvertFrom-Json -InputObject $Line -ErrorAction Stop
        } catch {
            $record = $null
        }
    }
    $progress = Get-PrefectField -InputObject $record -Name 'progress'
    $level = [string](Get-PrefectField -InputObject $record -Name 'level')
    if ($null -ne $progress) {
        $name = [string](Get-PrefectField -InputObject $progress -Name 'activity')
        $status = [string](Get-PrefectField -InputObject $progress -Name 'status')
        $percent = Get-PrefectField -InputObject $progress -Name 'percent'
        if (-not $name) {
            $name = 'PrefectWin'
        }
        if (-not $status) {
            $status = 'Working'
        }
        if (-not $Activity.Contains($name)) {
            $Activity.Add($name)
        }
        $progressParameters = @{
            Activity = $name
            Status = $status
            Id = $script:PrefectWinProgressBaseId + $Activity.IndexOf($name)
        }
        if ($null -ne $percent) {
            $progressParameters['PercentComplete'] = [System.Math]::Max(0, [System.Math]::Min(100, [int]$percent))
        }
        Write-Progress @progressParameters
        return '{0}: {1}' -f $name, $status
    }
    if (-not $level) {
        Write-Debug -Message $Line
        return $Line
    }
    $message = [string](Get-PrefectField -InputObject $record -Name 'message')
    switch ($level) {
        'verbose' {
            Write-Verbose -Message $message
        }
        'warning' {
            Write-Warning -Message $message
        }
        'information' {
            Write-Information -MessageData $message -Tags 'PrefectWin'
        }
        default {
            Write-Debug -Message $message
        }
    }
    '{0}: {1}' -f $level, $message
}

function ConvertFrom-PrefectResponse {
    <#
    .SYNOPSIS
    Turns the backend's stdout into results, a written error, or a terminating bridge failure.

    .DESCRIPTION
    ok:true writes the result (a list is unrolled). ok:false writes a non-terminating
    PrefectWin.<code> ErrorRecord through the cmdlet and returns nothing. Anything that is not a
    protocol-1 response throws PrefectWin.BridgeFailed with the tail of the backend's stderr.
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
        [Parameter(Mandatory = $true)]
        [System.Management.Automation.PSCmdlet] $Cmdlet,

        [Parameter(Mandatory = $true)]
        [string] $Command,

        [Parameter()]
        [AllowNull()]
        [AllowEmptyString()]
        [string] $Stdout,

        [Parameter()]
        [int] $ExitCode = 0,

        [Parameter()]
        [AllowNull()]
        [object] $Python,

        [Parameter()]
        [AllowNull()]
        [AllowEmptyCollection()]
        [string[]] $StderrTail = @()
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
    if ($null -eq $problem -and ($null -eq $protocol -or $ok -isnot [bool])) {
        $problem = "its stdout is not a PrefectWin response (exit code $ExitCode)"
    } elseif ($null -eq $problem -and 1 -ne $protocol) {
        $problem = "it speaks protocol $protocol and this module speaks protocol 1"
    }
    if ($null -ne $problem) {
        $Cmdlet.ThrowTerminatingError((New-PrefectBridgeFailure -Command $Command -Problem $problem -Python $Python -StderrTail $StderrTail))
    }
    Write-Debug -Message "PrefectWin backend exit code: $ExitCode"
    if ($ok) {
        $result = Get-PrefectField -InputObject $response -Name 'result'
        if ($null -ne $result) {
            Write-Output -InputObject $result
        }
        return
    }
    $errorObject = Get-PrefectField -InputObject $response -Name 'error'
    if ($null -eq $errorObject) {
        $errorObject = @{
            code = 'InternalError'
            message = "The PrefectWin backend failed '$Command' without saying why (exit code $ExitCode)."
        }
    }
    $Cmdlet.WriteError((New-PrefectErrorRecord -ErrorObject $errorObject))
}

function New-PrefectBridgeFailure {
    <#
    .SYNOPSIS
    The PrefectWin.BridgeFailed ErrorRecord: the backend could not be run or did not answer.

    .DESCRIPTION
    Also forgets the cached backend interpreter, so that the next command resolves it again.
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSUseShouldProcessForStateChangingFunctions', '', Justification = 'Creates an object in memory; changes no system state.')]
    [CmdletBinding()]
    [OutputType([System.Management.Automation.ErrorRecord])]
    param(
        [Parameter(Mandatory = $true)]
        [string] $Command,

        [Parameter(Mandatory = $true)]
        [string] $Problem,

        [Parameter()]
        [AllowNull()]
        [object] $Python,

        [Parameter()]
        [AllowNull()]
        [AllowEmptyCollection()]
        [string[]] $StderrTail = @()
    )
    $interpreter = [string](Get-PrefectField -InputObject $Python -Name 'Path')
    if (-not $interpreter) {
        $interpreter = 'the backend interpreter'
    }
    # An interpreter that does not answer is not remembered (Resolve-PrefectPython caches the
    # one it found): the remedy below is to point PREFECTWIN_PYTHON elsewhere or to run
    # './build.ps1 Install', and the next command must look again to see that.
    $script:PrefectWinBackendPython = $null
    New-PrefectErrorRecord -ErrorObject @{
        code = 'BridgeFailed'
        category = 'InvalidResult'
        message = Join-PrefectStderrTail -Message "The PrefectWin backend ($interpreter) did not answer '$Command': $Problem." -StderrTail $StderrTail
        target = $Command
        remediation = "Check that '$interpreter -m prefectwin rpc --schema' works; run './build.ps1 Install' or set PREFECTWIN_PYTHON to a python.exe with the prefectwin package."
    }
}

function New-PrefectBackendProcess {
    <#
    .SYNOPSIS
    Starts '<python> [prefix args] -X utf8 -m prefectwin rpc|serve': PrefectWin's one process start.

    .DESCRIPTION
    The argument list is constant apart from -Mode: nothing from the user ever goes into it
    (parameters, paths and secrets travel in the request on stdin, so they never show up in a
    process listing). All three streams are redirected as UTF-8, no window is shown, and the
    working directory is the module's own folder, never the user's location (see
    Invoke-PrefectBackend). Returns the started System.Diagnostics.Process; the caller reads its
    streams and disposes of it.

    .PARAMETER Python
    The backend interpreter, from Resolve-PrefectPython (Path and PrefixArgs).

    .PARAMETER Mode
    rpc (one request, then exit) or serve (a session: requests as JSON Lines until stdin closes).
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSUseShouldProcessForStateChangingFunctions', '', Justification = 'Starts the module''s own backend process; the calling cmdlet owns ShouldProcess.')]
    [CmdletBinding()]
    [OutputType([System.Diagnostics.Process])]
    param(
        [Parameter(Mandatory = $true)]
        [object] $Python,

        [Parameter(Mandatory = $true)]
        [ValidateSet('rpc', 'serve')]
        [string] $Mode
    )
    $utf8 = New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false
    $arguments = [string[]](@($Python.PrefixArgs) + @('-X', 'utf8', '-m', 'prefectwin', $Mode))
    $startInfo = New-Object -TypeName System.Diagnostics.ProcessStartInfo
    $startInfo.FileName = $Python.Path
    if ($null -ne $startInfo.PSObject.Properties['ArgumentList']) {
        foreach ($argument in $arguments) {
            $startInfo.ArgumentList.Add($argument)
        }
    } else {
        $startInfo.Arguments = ConvertTo-PrefectArgumentString -Argument $arguments
    }
    $startInfo.UseShellExecute = $false
    $startInfo.CreateNoWindow = $true
    $startInfo.RedirectStandardInput = $true
    $startInfo.RedirectStandardOutput = $true
    $startInfo.RedirectStandardError = $true
    $startInfo.StandardOutputEncoding = $utf8
    $startInfo.StandardErrorEncoding = $utf8
    if ($null -ne $startInfo.PSObject.Properties['StandardInputEncoding']) {
        $startInfo.StandardInputEncoding = $utf8
    }
    # Never the user's location: see the description. The request's cwd carries that.
    $startInfo.WorkingDirectory = $script:PrefectWinModuleRoot

    $process = New-Object -TypeName System.Diagnostics.Process
    $process.StartInfo = $startInfo
    try {
        $null = $process.Start()
    } catch {
        $process.Dispose()
        throw
    }
    $process
}

function Stop-PrefectBackendProcess {
    <#
    .SYNOPSIS
    Kills a backend process that is still running, with its child processes where .NET can
    (PowerShell 7).
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSUseShouldProcessForStateChangingFunctions', '', Justification = 'Stops the module''s own backend process; the calling cmdlet owns ShouldProcess.')]
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [System.Diagnostics.Process] $Process
    )
    try {
        if (-not $Process.HasExited) {
            Write-Debug -Message "Stopping the PrefectWin backend (process $($Process.Id))."
            if ($null -ne $Process.GetType().GetMethod('Kill', [System.Type[]]@([bool]))) {
                $Process.Kill($true)
            } else {
                $Process.Kill()
            }
        }
    } catch {
        # Already gone (InvalidOperationException) or exiting (Win32Exception): either way there
        # is nothing left to stop, and the error that matters is the caller's.
        Write-Debug -Message "Could not stop the PrefectWin backend: $($_.Exception.Message)"
    }
}

function Add-PrefectTailLine {
    <#
    .SYNOPSIS
    Keeps the last 40 stderr lines of a backend, which bridge failures quote.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [AllowEmptyCollection()]
        [System.Collections.Generic.List[string]] $Tail,

        [Parameter()]
        [AllowNull()]
        [AllowEmptyString()]
        [string] $Line
    )
    $Tail.Add($Line)
    while ($Tail.Count -gt 40) {
        $Tail.RemoveAt(0)
    }
}

function Join-PrefectStderrTail {
    <#
    .SYNOPSIS
    A bridge failure's message, followed by the last stderr lines of the backend, if any.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [string] $Message,

        [Parameter()]
        [AllowNull()]
        [AllowEmptyCollection()]
        [string[]] $StderrTail = @()
    )
    $lines = @($StderrTail | Where-Object { $_ })
    if ($lines.Count -eq 0) {
        return $Message
    }
    $Message + [System.Environment]::NewLine + 'Its stderr ended with:' + [System.Environment]::NewLine + ($lines -join [System.Environment]::NewLine)
}

function Get-PrefectRootCause {
    <#
    .SYNOPSIS
    The message of the innermost exception of an error (PowerShell wraps .NET exceptions).
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [System.Management.Automation.ErrorRecord] $ErrorRecord
    )
    $reason = $ErrorRecord.Exception
    while ($null -ne $reason.InnerException) {
        $reason = $reason.InnerException
    }
    $reason.Message
}

function Complete-PrefectProgress {
    <#
    .SYNOPSIS
    Closes the progress bars of one request (their Ids: see Write-PrefectBackendEvent).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [AllowEmptyCollection()]
        [System.Collections.Generic.List[string]] $Activity
    )
    foreach ($name in $Activity) {
        Write-Progress -Activity $name -Id ($script:PrefectWinProgressBaseId + $Activity.IndexOf($name)) -Completed
    }
}

# --------------------------------------------------------------------------------------------
# The persistent session: Start-PrefectSession, Stop-PrefectSession, Get-PrefectSession
# --------------------------------------------------------------------------------------------
function Open-PrefectBackendSession {
    <#
    .SYNOPSIS
    Opens the persistent backend session (Start-PrefectSession), or returns the open one.

    .DESCRIPTION
    Remembers the backend interpreter (Resolve-PrefectPython, once), starts
    'prefectwin serve' and asks it module.version, so that a backend that cannot serve fails
    here, with its stderr, instead of at the first real command. From then on
    Invoke-PrefectBackend sends every request of this runspace through the session. Returns
    the session as a PrefectWin.Session object.

    .PARAMETER Cmdlet
    The public cmdlet's $PSCmdlet: errors are thrown through it.

    .PARAMETER TimeoutSec
    How long the first answer may take (interpreter start-up included).
    #>
    [CmdletBinding()]
    [OutputType('PrefectWin.Session')]
    param(
        [Parameter(Mandatory = $true)]
        [System.Management.Automation.PSCmdlet] $Cmdlet,

        [Parameter()]
        [ValidateRange(1, 86400)]
        [int] $TimeoutSec = 60
    )
    $session = $script:PrefectWinSession
    if ($null -ne $session -and $null -ne $session.Process -and -not $session.Process.HasExited) {
        Write-Verbose -Message ("A PrefectWin session is already open (process {0})." -f $session.Process.Id)
        return (ConvertTo-PrefectSessionInfo -Session $session)
    }
    if ($null -eq $session) {
        $python = Resolve-PrefectPython -Cmdlet $Cmdlet
        $session = [PSCustomObject]@{
            PSTypeName = 'PrefectWin.SessionState'
            Python = $python
            Process = $null
            # The pending ReadLineAsync task of each stream, kept from call to call.
            Stdout = $null
            Stderr = $null
            StderrOpen = $false
            # The environment the process started with (Get-PrefectEnvironmentStamp).
            Environment = $null
            Busy = $false
            NextId = 0
            Requests = 0
            Starts = 0
            StartTime = $null
            Version = $null
        }
        $script:PrefectWinSession = $session
    }
    $location = $Cmdlet.SessionState.Path.CurrentFileSystemLocation.ProviderPath
    $version = $null
    $answerErrors = $null
    try {
        # Through a command of its own: the caller's terminating errors (thrown with
        # $Cmdlet.ThrowTerminatingError) are not caught by a try in the caller itself, and
        # then the failed session would stay open.
        $version = Request-PrefectSessionHandshake -Session $session -Location $location -TimeoutSec $TimeoutSec -ErrorAction SilentlyContinue -ErrorVariable answerErrors
    } catch {
        $failure = $_
        $null = Close-PrefectBackendSession -TimeoutSec 5
        # A backend that dies before its first answer cannot serve at all (an interpreter
        # without prefectwin, say): that is a bridge failure, not a lost session whose last
        # command may or may not have taken effect.
        if ([string]$failure.FullyQualifiedErrorId -like 'PrefectWin.SessionLost*') {
            $marker = 'Its stderr ended with:'
            $lostMessage = [string]$failure.Exception.Message
            $tail = @()
            if ($lostMessage.Contains($marker)) {
                $tail = @($lostMessage.Substring($lostMessage.IndexOf($marker) + $marker.Length) -split '\r?\n' | Where-Object -FilterScript { $_ })
            }
            $failure = New-PrefectBridgeFailure -Command 'module.version' -Problem 'its session process ended before it answered the first request' -Python $session.Python -StderrTail $tail
        }
        $Cmdlet.ThrowTerminatingError($failure)
    }
    if ($null -eq $version) {
        # module.version answered ok:false: pass its error on, then fail the start.
        foreach ($answerError in @($answerErrors | Where-Object -FilterScript { $null -ne $_ })) {
            $Cmdlet.WriteError($answerError)
        }
        $null = Close-PrefectBackendSession -TimeoutSec 5
        $Cmdlet.ThrowTerminatingError((New-PrefectBridgeFailure -Command 'module.version' -Problem 'its session did not answer module.version' -Python $session.Python))
    }
    $session.Version = [string](Get-PrefectField -InputObject $version -Name 'version')
    ConvertTo-PrefectSessionInfo -Session $session
}

function Request-PrefectSessionHandshake {
    <#
    .SYNOPSIS
    The first request of a new session (module.version), as a command of its own, so that
    Open-PrefectBackendSession can catch its terminating errors.

    .PARAMETER Session
    The new session.

    .PARAMETER Location
    The request's cwd.

    .PARAMETER TimeoutSec
    How long the first answer may take.
    #>
    [CmdletBinding()]
    [OutputType([object])]
    param(
        [Parameter(Mandatory = $true)]
        [object] $Session,

        [Parameter()]
        [AllowNull()]
        [AllowEmptyString()]
        [string] $Location,

        [Parameter()]
        [ValidateRange(1, 86400)]
        [int] $TimeoutSec = 60
    )
    Invoke-PrefectSessionRequest -Cmdlet $PSCmdlet -Session $Session -Command 'module.version' -Location $Location -TimeoutSec $TimeoutSec
}

function Close-PrefectBackendSession {
    <#
    .SYNOPSIS
    Ends the session (Stop-PrefectSession): closes the backend's stdin and waits for it to exit.

    .DESCRIPTION
    'prefectwin serve' exits by itself when its stdin closes; a backend that has not exited
    after -TimeoutSec is killed. Later requests get one process each again. Returns the
    session's last PrefectWin.Session object (Status Closed), or nothing when none was open.

    .PARAMETER TimeoutSec
    How long to wait for the backend to exit.
    #>
    [CmdletBinding()]
    [OutputType('PrefectWin.Session')]
    param(
        [Parameter()]
        [ValidateRange(1, 3600)]
        [int] $TimeoutSec = 10
    )
    $session = $script:PrefectWinSession
    if ($null -eq $session) {
        Write-Verbose -Message 'No PrefectWin session is open.'
        return
    }
    $script:PrefectWinSession = $null
    $info = ConvertTo-PrefectSessionInfo -Session $session
    $process = $session.Process
    if ($null -ne $process) {
        try {
            if (-not $process.HasExited) {
                $process.StandardInput.Close()
                if ($process.WaitForExit($TimeoutSec * 1000)) {
                    Write-Verbose -Message ("The PrefectWin session's backend (process {0}) exited after {1} request(s)." -f $process.Id, $session.Requests)
                } else {
                    Write-Warning -Message ("The PrefectWin session's backend (process {0}) did not exit within {1} seconds of its stdin closing; it is stopped." -f $process.Id, $TimeoutSec)
                }
            }
        } catch [System.IO.IOException], [System.InvalidOperationException] {
            Write-Debug -Message "Closing the PrefectWin session's stdin failed: $($_.Exception.Message)"
        }
        Remove-PrefectSessionProcess -Session $session
    }
    $info.Status = 'Closed'
    $info
}

function Get-PrefectBackendSession {
    <#
    .SYNOPSIS
    The open session as a PrefectWin.Session object (Get-PrefectSession), or nothing.
    #>
    [CmdletBinding()]
    [OutputType('PrefectWin.Session')]
    param()
    if ($null -ne $script:PrefectWinSession) {
        ConvertTo-PrefectSessionInfo -Session $script:PrefectWinSession
    }
}

function ConvertTo-PrefectSessionInfo {
    <#
    .SYNOPSIS
    What Get-PrefectSession shows of the session's state.

    .DESCRIPTION
    Status is Running, Exited (the backend died between requests; the next request starts a
    new one) or Idle (its backend was stopped after a time-out or a lost request, or none has
    started yet; the next request starts one). Close-PrefectBackendSession sets Closed.
    #>
    [CmdletBinding()]
    [OutputType('PrefectWin.Session')]
    param(
        [Parameter(Mandatory = $true)]
        [object] $Session
    )
    $process = $Session.Process
    $status = 'Idle'
    $processId = $null
    if ($null -ne $process) {
        $processId = $process.Id
        $status = 'Running'
        if ($process.HasExited) {
            $status = 'Exited'
        }
    }
    [PSCustomObject]@{
        PSTypeName = 'PrefectWin.Session'
        Status = $status
        ProcessId = $processId
        PythonPath = [string](Get-PrefectField -InputObject $Session.Python -Name 'Path')
        Version = $Session.Version
        Requests = $Session.Requests
        Starts = $Session.Starts
        StartTime = $Session.StartTime
    }
}

function Remove-PrefectSessionProcess {
    <#
    .SYNOPSIS
    Stops (if it still runs) and forgets the session's current backend process; the session
    stays open, and its next request starts a new process.
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSUseShouldProcessForStateChangingFunctions', '', Justification = 'Stops the module''s own backend process; the calling cmdlet owns ShouldProcess.')]
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [object] $Session
    )
    $process = $Session.Process
    $Session.Process = $null
    $Session.Stdout = $null
    $Session.Stderr = $null
    $Session.StderrOpen = $false
    if ($null -ne $process) {
        Stop-PrefectBackendProcess -Process $process
        $process.Dispose()
    }
}

function Invoke-PrefectSessionRequest {
    <#
    .SYNOPSIS
    Serves one request through the session's 'prefectwin serve' process.

    .DESCRIPTION
    Starts the session's process when there is none (the first request, or after a time-out or
    a lost request), or when the last one exited between requests (with a warning). Writes the
    request as one JSON line with the next "id", then reads stdout and stderr together without
    blocking on either: each stream has at most one pending ReadLineAsync task (a StreamReader
    allows no more), kept in the session object from call to call so that no line is lost, and
    Task.WaitAny wakes up for whichever line comes first.
      - the request's events (verbose, warning, information, debug, progress) are stdout lines
        with its id and no 'ok', which the backend writes before the answer: they are relayed
        in order as they arrive (Write-PrefectBackendEvent), so all of them are relayed before
        the cmdlet returns.
      - stderr is for crash output; its lines are relayed to Write-Debug as they arrive and
        kept for the error message when the backend dies.
      - the stdout line with this request's id is the answer, and so is one with id null (the
        backend could not read the id of an oversized or malformed line, and only this request
        is in flight); any other line is skipped with Write-Debug.
    If the process dies or a pipe breaks while the request is in flight, the process is
    discarded and PrefectWin.SessionLost is thrown: the request may or may not have taken
    effect. After a time-out (PrefectWin.Timeout), or when the call is stopped (Ctrl-C), the
    process is killed and discarded as well, so that its late answer cannot be taken for the
    next one. Either way the next request starts a new process.

    .PARAMETER Cmdlet
    The public cmdlet's $PSCmdlet.

    .PARAMETER Session
    $script:PrefectWinSession.

    .PARAMETER Command
    The backend command, 'family.verb'.

    .PARAMETER Parameters
    The command's parameters with their camelCase wire names.

    .PARAMETER WhatIf
    The protocol's whatIf flag.

    .PARAMETER Apply
    The request's apply field.

    .PARAMETER Location
    The request's cwd.

    .PARAMETER TimeoutSec
    How long the answer may take before the session's process is killed.
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSUseSupportsShouldProcess', '', Justification = '-WhatIf is the protocol whatIf flag.')]
    [CmdletBinding()]
    [OutputType([object])]
    param(
        [Parameter(Mandatory = $true)]
        [System.Management.Automation.PSCmdlet] $Cmdlet,

        [Parameter(Mandatory = $true)]
        [object] $Session,

        [Parameter(Mandatory = $true)]
        [string] $Command,

        [Parameter()]
        [System.Collections.IDictionary] $Parameters = @{},

        [Parameter()]
        [switch] $WhatIf,

        [Parameter()]
        [hashtable] $Apply,

        [Parameter()]
        [AllowNull()]
        [AllowEmptyString()]
        [string] $Location,

        [Parameter()]
        [ValidateRange(1, 86400)]
        [int] $TimeoutSec = 600
    )
    $process = $Session.Process
    if ($null -ne $process -and $process.HasExited) {
        Write-Warning -Message ("The PrefectWin session's backend (process {0}) exited with code {1} between requests; starting a new one." -f $process.Id, $process.ExitCode)
        Remove-PrefectSessionProcess -Session $Session
    }
    # The backend inherited this process's environment when it started, and Prefect's settings
    # come from it: after the caller changed a variable ($env:PREFECT_API_URL = ...), only a
    # new backend answers what a one-shot call would.
    $environment = Get-PrefectEnvironmentStamp
    if ($null -ne $Session.Process -and $Session.Environment -cne $environment) {
        Write-Verbose -Message ("The environment changed since the PrefectWin session's backend (process {0}) started; starting a new one that sees it." -f $Session.Process.Id)
        Remove-PrefectSessionProcess -Session $Session
    }
    if ($null -eq $Session.Process) {
        try {
            $Session.Process = New-PrefectBackendProcess -Python $Session.Python -Mode 'serve'
        } catch {
            $Cmdlet.ThrowTerminatingError((New-PrefectBridgeFailure -Command $Command -Problem "its session process could not be started: $(Get-PrefectRootCause -ErrorRecord $_)" -Python $Session.Python))
        }
        $Session.StderrOpen = $true
        $Session.Environment = $environment
        $Session.Starts++
        $Session.StartTime = [System.DateTime]::Now
        Write-Verbose -Message ("PrefectWin session backend started (process {0})." -f $Session.Process.Id)
    }
    $process = $Session.Process
    $processId = $process.Id
    $Session.NextId++
    $requestId = $Session.NextId
    $line = ConvertTo-PrefectRequestJson -Command $Command -Parameters $Parameters -WhatIf:$WhatIf -Apply $Apply -Location $Location -RequestId $requestId
    $utf8 = New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false
    $bytes = $utf8.GetBytes($line + "`n")
    $tail = New-Object -TypeName 'System.Collections.Generic.List[string]'
    $activities = New-Object -TypeName 'System.Collections.Generic.List[string]'
    $answer = $null
    $exitCode = -1
    $lost = $null
    $powerShellError = $null
    $timedOut = $false
    $Session.Busy = $true
    try {
        try {
            $process.StandardInput.BaseStream.Write($bytes, 0, $bytes.Length)
            $process.StandardInput.BaseStream.Flush()
        } catch [System.IO.IOException], [System.ObjectDisposedException], [System.InvalidOperationException] {
            $lost = "did not take the request ($($_.Exception.Message))"
        }
        $deadline = [System.DateTime]::UtcNow.AddSeconds($TimeoutSec)
        while ($null -eq $answer -and $null -eq $lost) {
            if ($null -eq $Session.Stdout) {
                $Session.Stdout = $process.StandardOutput.ReadLineAsync()
            }
            if ($Session.StderrOpen -and $null -eq $Session.Stderr) {
                $Session.Stderr = $process.StandardError.ReadLineAsync()
            }
            $pending = New-Object -TypeName 'System.Collections.Generic.List[System.Threading.Tasks.Task]'
            $pending.Add($Session.Stdout)
            if ($null -ne $Session.Stderr) {
                $pending.Add($Session.Stderr)
            }
            if ([System.Threading.Tasks.Task]::WaitAny($pending.ToArray(), 200) -lt 0) {
                if ([System.DateTime]::UtcNow -ge $deadline) {
                    $timedOut = $true
                    break
                }
                continue
            }
            $null = Receive-PrefectSessionEvent -Session $Session -Tail $tail -Activity $activities
            if (-not $Session.Stdout.IsCompleted) {
                continue
            }
            $text = $Session.Stdout.Result
            $Session.Stdout = $null
            if ($null -eq $text) {
                $lost = 'closed its stdout'
                continue
            }
            if (Test-PrefectSessionEvent -Line $text -RequestId $requestId) {
                # Events come on stdout before their answer, so none is left behind for the next request.
                Add-PrefectTailLine -Tail $tail -Line (Write-PrefectBackendEvent -Line $text -Activity $activities)
                continue
            }
            $code = Get-PrefectSessionExitCode -Line $text -RequestId $requestId
            if ($null -eq $code) {
                Write-Debug -Message "Skipped a PrefectWin session line that does not answer request ${requestId}: $text"
                continue
            }
            $answer = $text
            $exitCode = $code
        }
        if ($null -ne $answer) {
            $Session.Requests++
            # Its events came before it on stdout; stderr holds crash output only, and what
            # has arrived of it is relayed without waiting.
            $null = Receive-PrefectSessionEvent -Session $Session -Tail $tail -Activity $activities
        }
    } catch [System.Management.Automation.ActionPreferenceStopException], [System.Management.Automation.PipelineStoppedException] {
        throw
    } catch [System.IO.IOException], [System.ObjectDisposedException] {
        $lost = "broke the connection ($(Get-PrefectRootCause -ErrorRecord $_))"
    } catch {
        # PowerShell's own error (see Invoke-PrefectBackend): the cmdlet fails with it as it is.
        # The process is discarded below all the same, as its answer may be half read.
        $powerShellError = $_
    } finally {
        $Session.Busy = $false
        if ($null -eq $answer) {
            if ($null -ne $lost) {
                try {
                    # What the process said on its way out, then how it ended.
                    $null = Receive-PrefectSessionEvent -Session $Session -Tail $tail -Activity $activities -WaitMilliseconds 500
                    if ($process.WaitForExit(2000)) {
                        $lost += " and exited with code $($process.ExitCode)"
                    } else {
                        $lost += ' and was stopped'
                    }
                } catch {
                    Write-Debug -Message "Reading the lost PrefectWin session's last words failed: $($_.Exception.Message)"
                }
            }
            Remove-PrefectSessionProcess -Session $Session
        }
        Complete-PrefectProgress -Activity $activities
    }
    if ($null -ne $powerShellError) {
        $Cmdlet.ThrowTerminatingError($powerShellError)
    }
    if ($timedOut) {
        $record = New-PrefectErrorRecord -ErrorObject @{
            code = 'Timeout'
            category = 'OperationTimeout'
            message = "The PrefectWin session's backend (process $processId) did not finish '$Command' within $TimeoutSec seconds and was stopped; the next command starts a new one."
            target = $Command
            remediation = 'Run the command again with -Verbose to see where it stopped.'
        }
        $Cmdlet.ThrowTerminatingError($record)
    }
    if ($null -ne $lost) {
        $message = "The PrefectWin session's backend (process $processId) $lost while it served '$Command' (request $requestId). Whether '$Command' took effect is unknown; the next command starts a new session backend."
        $record = New-PrefectErrorRecord -ErrorObject @{
            code = 'SessionLost'
            category = 'ResourceUnavailable'
            message = Join-PrefectStderrTail -Message $message -StderrTail $tail
            target = $Command
            remediation = "Check the state '$Command' was meant to change (for example with Get-PrefectService), then run it again. If this repeats, Stop-PrefectSession and run the command with -Debug, without a session."
        }
        $Cmdlet.ThrowTerminatingError($record)
    }
    ConvertFrom-PrefectResponse -Cmdlet $Cmdlet -Command $Command -Stdout $answer -ExitCode $exitCode -Python $Session.Python -StderrTail $tail
}

function Get-PrefectEnvironmentStamp {
    <#
    .SYNOPSIS
    This process's environment variables as one text, in a stable order, so that a session can
    tell whether they changed since its backend started.

    .DESCRIPTION
    Names in ordinal order, each with its value. The text stays in this process's memory (the
    session object), where the same values are anyway, and is never written anywhere.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param()
    $variables = [System.Environment]::GetEnvironmentVariables()
    $names = New-Object -TypeName 'System.Collections.Generic.List[string]'
    foreach ($name in $variables.Keys) {
        $names.Add([string]$name)
    }
    $names.Sort([System.StringComparer]::Ordinal)
    $builder = New-Object -TypeName System.Text.StringBuilder
    foreach ($name in $names) {
        $null = $builder.Append($name).Append([char]0).Append([string]$variables[$name]).Append([char]0)
    }
    $builder.ToString()
}

function Receive-PrefectSessionEvent {
    <#
    .SYNOPSIS
    Relays the session's stderr lines (crash output) that have arrived, and returns how many
    there were.

    .DESCRIPTION
    Takes the pending ReadLineAsync task of the session's stderr while it has completed,
    relays its line (Write-PrefectBackendEvent), keeps it in the tail and starts the next read.
    By default it does not wait at all; -WaitMilliseconds waits that long for each next line.
    At the end of the stream it marks stderr closed.

    .PARAMETER Session
    $script:PrefectWinSession.

    .PARAMETER Tail
    The request's stderr tail.

    .PARAMETER Activity
    The request's progress activities (see Write-PrefectBackendEvent).

    .PARAMETER WaitMilliseconds
    How long to wait for each next line.
    #>
    [CmdletBinding()]
    [OutputType([int])]
    param(
        [Parameter(Mandatory = $true)]
        [object] $Session,

        [Parameter(Mandatory = $true)]
        [AllowEmptyCollection()]
        [System.Collections.Generic.List[string]] $Tail,

        [Parameter(Mandatory = $true)]
        [AllowEmptyCollection()]
        [System.Collections.Generic.List[string]] $Activity,

        [Parameter()]
        [ValidateRange(0, 60000)]
        [int] $WaitMilliseconds = 0
    )
    $count = 0
    while ($Session.StderrOpen) {
        if ($null -eq $Session.Stderr) {
            $Session.Stderr = $Session.Process.StandardError.ReadLineAsync()
        }
        if (-not $Session.Stderr.Wait($WaitMilliseconds)) {
            break
        }
        $line = $Session.Stderr.Result
        $Session.Stderr = $null
        if ($null -eq $line) {
            $Session.StderrOpen = $false
            break
        }
        Add-PrefectTailLine -Tail $Tail -Line (Write-PrefectBackendEvent -Line $line -Activity $Activity)
        $count++
    }
    $count
}

function ConvertFrom-PrefectSessionLine {
    <#
    .SYNOPSIS
    One session stdout line as an object, or $null when it is no JSON object.

    .PARAMETER Line
    One stdout line of the session's backend.
    #>
    [CmdletBinding()]
    [OutputType([object])]
    param(
        [Parameter(Mandatory = $true)]
        [AllowEmptyString()]
        [string] $Line
    )
    if (-not $Line.TrimStart().StartsWith('{')) {
        return $null
    }
    try {
        ConvertFrom-Json -InputObject $Line -ErrorAction Stop
    } catch {
        $null
    }
}

function Test-PrefectSessionEvent {
    <#
    .SYNOPSIS
    Whether a session stdout line is an event ({"id", "level"|"progress", ...}, no "ok") of
    request -RequestId.

    .PARAMETER Line
    One stdout line of the session's backend.

    .PARAMETER RequestId
    The id of the request in flight.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory = $true)]
        [AllowEmptyString()]
        [string] $Line,

        [Parameter(Mandatory = $true)]
        [int] $RequestId
    )
    $record = ConvertFrom-PrefectSessionLine -Line $Line
    if ($null -eq $record -or $null -ne (Get-PrefectField -InputObject $record -Name 'ok')) {
        return $false
    }
    $eventId = Get-PrefectField -InputObject $record -Name 'id'
    $isEvent = $null -ne (Get-PrefectField -InputObject $record -Name 'level') -or $null -ne (Get-PrefectField -InputObject $record -Name 'progress')
    $isEvent -and [string]$eventId -eq [string]$RequestId
}

function Get-PrefectSessionExitCode {
    <#
    .SYNOPSIS
    The exitCode of a session stdout line that answers request -RequestId, or $null when the
    line answers another request or is no JSON object at all.

    .DESCRIPTION
    A line with id null answers the request in flight (see Invoke-PrefectSessionRequest). A
    JSON object without exitCode counts as exit code 0 or 1 by its 'ok'; whether it is a
    protocol response at all is for ConvertFrom-PrefectResponse to say.

    .PARAMETER Line
    One stdout line of the session's backend.

    .PARAMETER RequestId
    The id of the request in flight.
    #>
    [CmdletBinding()]
    [OutputType([int])]
    param(
        [Parameter(Mandatory = $true)]
        [AllowEmptyString()]
        [string] $Line,

        [Parameter(Mandatory = $true)]
        [int] $RequestId
    )
    $reply = ConvertFrom-PrefectSessionLine -Line $Line
    if ($null -eq $reply) {
        return $null
    }
    $replyId = Get-PrefectField -InputObject $reply -Name 'id'
    if ($null -ne $replyId -and [string]$replyId -ne [string]$RequestId) {
        return $null
    }
    $code = Get-PrefectField -InputObject $reply -Name 'exitCode'
    if ($null -ne $code) {
        return [int]$code
    }
    if ((Get-PrefectField -InputObject $reply -Name 'ok') -eq $true) {
        return 0
    }
    1
}
