function Invoke-PrefectBackend {
    <#
    .SYNOPSIS
    Sends one request to the Python backend and returns its result: the bridge.

    .DESCRIPTION
    This is the only PowerShell code in PrefectWin that starts a process. It starts
    '<python> [prefix args] -X utf8 -m prefectwin rpc' with a constant argument list, writes one
    UTF-8 JSON request {"protocol":1,"command":...,"params":{...},"whatIf":...} to its stdin and
    closes it, relays the backend's stderr JSON Lines as they arrive (Write-Verbose,
    Write-Warning, Write-Information, Write-Debug, Write-Progress), and reads one JSON response
    from stdout (docs/protocol.md).
      - ok:true  -> the result is written to the pipeline (a list is unrolled).
      - ok:false -> a non-terminating ErrorRecord PrefectWin.<code> is written through the
                    calling cmdlet, and nothing is returned.
      - no protocol response (Python missing or crashed, protocol mismatch) or a time-out ->
        a terminating error, PrefectWin.BridgeFailed or PrefectWin.Timeout.

    .PARAMETER Cmdlet
    The public cmdlet's $PSCmdlet: errors are written and thrown through it.

    .PARAMETER Command
    The backend command, 'family.verb'.

    .PARAMETER Parameters
    The command's parameters with their camelCase wire names. $null values are left out.

    .PARAMETER WhatIf
    Sets the request's whatIf flag: a state-changing command returns its plan and changes
    nothing. This is the protocol flag, not ShouldProcess; Invoke-PrefectPlan does ShouldProcess.

    .PARAMETER TimeoutSec
    How long the backend may run before it is stopped (with its child processes on PowerShell 7).
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
        [ValidateRange(1, 86400)]
        [int] $TimeoutSec = 600
    )
    # Windows PowerShell's -Debug means 'Inquire', which would prompt once per backend line.
    if ($DebugPreference -eq 'Inquire') {
        $DebugPreference = 'Continue'
    }
    $python = Resolve-PrefectPython -Cmdlet $Cmdlet
    $request = ConvertTo-PrefectRequestJson -Command $Command -Parameters $Parameters -WhatIf:$WhatIf
    $utf8 = New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false
    $requestBytes = $utf8.GetBytes($request)
    $arguments = [string[]](@($python.PrefixArgs) + @('-X', 'utf8', '-m', 'prefectwin', 'rpc'))
    Write-Debug -Message ("PrefectWin request: {0} with parameters [{1}], whatIf {2}" -f $Command, (@($Parameters.Keys) -join ', '), [bool]$WhatIf)

    $startInfo = New-Object -TypeName System.Diagnostics.ProcessStartInfo
    $startInfo.FileName = $python.Path
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
    # Relative -PythonPath or -PrefectHome values mean what they mean at the PowerShell prompt,
    # whose location is not the process's current directory.
    $startInfo.WorkingDirectory = $Cmdlet.SessionState.Path.CurrentFileSystemLocation.ProviderPath

    $process = New-Object -TypeName System.Diagnostics.Process
    $process.StartInfo = $startInfo
    $started = $false
    $failure = $null
    $stdout = $null
    $exitCode = -1
    $tail = New-Object -TypeName 'System.Collections.Generic.List[string]'
    $activities = New-Object -TypeName 'System.Collections.Generic.List[string]'
    try {
        $started = $process.Start()
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
                $tail.Add((Write-PrefectBackendEvent -Line $line -Activity $activities))
                if ($tail.Count -gt 40) {
                    $tail.RemoveAt(0)
                }
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
    } catch {
        $reason = $_.Exception
        while ($null -ne $reason.InnerException) {
            $reason = $reason.InnerException
        }
        $failure = New-PrefectBridgeFailure -Command $Command -Problem "it could not be run: $($reason.Message)" -Python $python -StderrTail $tail
    } finally {
        if ($started) {
            try {
                if (-not $process.HasExited) {
                    Write-Debug -Message "Stopping the PrefectWin backend (process $($process.Id))."
                    if ($null -ne $process.GetType().GetMethod('Kill', [System.Type[]]@([bool]))) {
                        $process.Kill($true)
                    } else {
                        $process.Kill()
                    }
                }
            } catch {
                # Already gone (InvalidOperationException) or exiting (Win32Exception): either
                # way there is nothing left to stop, and the error that matters is the caller's.
                Write-Debug -Message "Could not stop the PrefectWin backend: $($_.Exception.Message)"
            }
        }
        foreach ($activity in $activities) {
            Write-Progress -Activity $activity -Id $activities.IndexOf($activity) -Completed
        }
        $process.Dispose()
    }
    if ($null -ne $failure) {
        $Cmdlet.ThrowTerminatingError($failure)
    }
    ConvertFrom-PrefectResponse -Cmdlet $Cmdlet -Command $Command -Stdout $stdout -ExitCode $exitCode -Python $python -StderrTail $tail
}

function ConvertTo-PrefectRequestJson {
    <#
    .SYNOPSIS
    The request Invoke-PrefectBackend writes to the backend's stdin, as compact JSON.

    .DESCRIPTION
    Leaves out $null parameters and turns values into plain JSON types first (see
    ConvertTo-PrefectJsonValue), so that Windows PowerShell 5.1's ConvertTo-Json keeps a
    one-element array an array and never serializes extended properties.
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
        [switch] $WhatIf
    )
    $params = [ordered]@{}
    foreach ($key in @($Parameters.Keys | Sort-Object)) {
        $value = $Parameters[$key]
        if ($null -ne $value) {
            $params[[string]$key] = ConvertTo-PrefectJsonValue -Value $value
        }
    }
    $request = [ordered]@{
        protocol = 1
        command = $Command
        params = $params
        whatIf = [bool]$WhatIf
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
        return (-join ([string]$Value).ToCharArray())
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
    Relays one stderr line of the backend to the matching PowerShell stream.

    .DESCRIPTION
    {"level":"verbose|warning|information|debug","message":...} goes to Write-Verbose,
    Write-Warning, Write-Information or Write-Debug; {"progress":{"activity","status","percent"}}
    goes to Write-Progress (one progress bar per activity); any other line goes to Write-Debug.
    Returns the line as text for the stderr tail that bridge failures quote.

    .PARAMETER Line
    One line of the backend's stderr.

    .PARAMETER Activity
    The progress activities seen so far; their index is the Write-Progress Id.
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
            Id = $Activity.IndexOf($name)
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
    $message = "The PrefectWin backend ($interpreter) did not answer '$Command': $Problem."
    $lines = @($StderrTail | Where-Object { $_ })
    if ($lines.Count -gt 0) {
        $message += [System.Environment]::NewLine + 'Its stderr ended with:' + [System.Environment]::NewLine + ($lines -join [System.Environment]::NewLine)
    }
    New-PrefectErrorRecord -ErrorObject @{
        code = 'BridgeFailed'
        category = 'InvalidResult'
        message = $message
        target = $Command
        remediation = "Check that '$interpreter -m prefectwin rpc --schema' works; run './build.ps1 Install' or set PREFECTWIN_PYTHON to a python.exe with the prefectwin package."
    }
}
