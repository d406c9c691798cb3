<#
.SYNOPSIS
Sample remoting deployment: one Prefect server and N workers on many hosts with PowerShell
remoting and Install-PrefectStack, and one table of the results.

.DESCRIPTION
Over one PSSession per host (made here from -ServerComputerName and -WorkerComputerName, or
given as -ServerSession and -WorkerSession), this copies the PrefectWin module folder to each
host (Copy-Item -ToSession), then runs Install-PrefectStack there: first on the server host with
-Role Server, listening on the network with -AuthCredential and a firewall rule scoped to
-AllowFrom; then, once the server is up, on every worker host at once (Invoke-Command over all
their sessions) with -Role Worker, -ApiUrl of the server and the same -AuthCredential.

It writes one row per host: ComputerName, Role, Healthy, Seconds (each phase's time, as the
host's result reports it), Failure (what failed, or why the host was not run) and Result (the
host's whole result object). An error on one host is caught there and becomes that host's row;
the other hosts go on. The workers are not run when the server's run failed or, without
-WhatIf, did not end healthy: their row says so. Sessions made here are removed at the end.

-WhatIf is passed to Install-PrefectStack on each host, which then shows its plan and changes
nothing; the module is still copied, since the plan needs it there. The credentials travel only
inside the sessions' arguments; nothing here writes them.

Each host needs PowerShell remoting (WinRM, or SSH with PowerShell 7) and Python, or the py
launcher, for Install-PrefectStack to build the venv from; give -WheelFolder for hosts without
the package index, with the folder at the same path on every host.

.PARAMETER ServerComputerName
The host that gets the server.

.PARAMETER WorkerComputerName
The hosts that get a worker each.

.PARAMETER Credential
The account that opens the sessions (an administrator of the hosts). Default: yours.

.PARAMETER ServerSession
An open session to the server host, instead of -ServerComputerName.

.PARAMETER WorkerSession
Open sessions to the worker hosts, instead of -WorkerComputerName.

.PARAMETER ModulePath
The PrefectWin module folder to copy: the one that holds PrefectWin.psd1 and the backend's
python folder, as './build.ps1 Build' writes it (out/PrefectWin/<version>).

.PARAMETER RemoteModulePath
Where the module goes on each host. Default: C:\Program Files\WindowsPowerShell\Modules\PrefectWin.

.PARAMETER AuthCredential
Prefect's basic auth: the server requires it, the workers send it.

.PARAMETER ServerAddress
The name or address the workers reach the server at. Default: the server session's computer name.

.PARAMETER Port
The server's port. Default 4200.

.PARAMETER AllowFrom
The remote addresses or subnets the server's firewall rule admits: the workers'. Default: LocalSubnet.

.PARAMETER Pool
The work pool the workers poll. Default windows.

.PARAMETER PythonPath
The base python.exe on each host that the venv is made from (Install-PrefectStack -PythonPath).

.PARAMETER PrefectVersion
The Prefect release to pin (Install-PrefectStack -PrefectVersion).

.PARAMETER NssmPath
Where nssm.exe is on each host (Install-PrefectStack -NssmPath). Give it when NSSM is not on the
hosts' PATH: winget, which Install-PrefectStack would otherwise try, often does not work in a
remoting session.

.PARAMETER WheelFolder
A folder of wheels on each host, for hosts without the package index.

.PARAMETER TimeoutSec
How long each host waits for its services to be healthy (Install-PrefectStack -TimeoutSec).

.EXAMPLE
$auth = Get-Credential -UserName 'admin' -Message 'Prefect API basic auth'
.\examples\Deploy-PrefectFleet.ps1 -ServerComputerName prefect01 -WorkerComputerName worker01, worker02 -ModulePath .\out\PrefectWin\0.1.0 -AuthCredential $auth -AllowFrom 10.0.1.0/24 | Format-Table -Property ComputerName, Role, Healthy, Seconds, Failure

Installs the server on prefect01, then a worker on worker01 and worker02 pointing at it, and
shows one row per host.

.EXAMPLE
$sessions = New-PSSession -ComputerName worker01, worker02 -UseSSL
.\examples\Deploy-PrefectFleet.ps1 -ServerSession (New-PSSession -ComputerName prefect01 -UseSSL) -WorkerSession $sessions -ModulePath .\out\PrefectWin\0.1.0 -AuthCredential $auth -WhatIf

Shows each host's plan over sessions you opened yourself, changing nothing.
#>
[CmdletBinding(SupportsShouldProcess = $true, DefaultParameterSetName = 'ComputerName')]
param(
    [Parameter(Mandatory = $true, ParameterSetName = 'ComputerName')]
    [string] $ServerComputerName,

    [Parameter(ParameterSetName = 'ComputerName')]
    [string[]] $WorkerComputerName = @(),

    [Parameter(ParameterSetName = 'ComputerName')]
    [System.Management.Automation.PSCredential] $Credential,

    [Parameter(Mandatory = $true, ParameterSetName = 'Session')]
    [System.Management.Automation.Runspaces.PSSession] $ServerSession,

    [Parameter(ParameterSetName = 'Session')]
    [System.Management.Automation.Runspaces.PSSession[]] $WorkerSession = @(),

    [Parameter(Mandatory = $true)]
    [string] $ModulePath,

    [Parameter()]
    [string] $RemoteModulePath = 'C:\Program Files\WindowsPowerShell\Modules\PrefectWin',

    [Parameter(Mandatory = $true)]
    [System.Management.Automation.PSCredential] $AuthCredential,

    [Parameter()]
    [string] $ServerAddress,

    [Parameter()]
    [ValidateRange(1, 65535)]
    [int] $Port = 4200,

    [Parameter()]
    [string[]] $AllowFrom = @('LocalSubnet'),

    [Parameter()]
    [string] $Pool = 'windows',

    [Parameter()]
    [string] $PythonPath,

    [Parameter()]
    [string] $PrefectVersion,

    [Parameter()]
    [string] $WheelFolder,

    [Parameter()]
    [string] $NssmPath,

    [Parameter()]
    [int] $TimeoutSec
)

# Runs on each host: imports the copied module and installs. Every error is caught here and
# returned as data, so one host's failure is its row and never stops the others. The result
# comes back through remoting's serializer, which keeps PSCustomObject properties at any depth.
$installOnHost = {
    param([string] $ModuleFolder, [hashtable] $Parameters)
    try {
        Import-Module -Name $ModuleFolder -Force -ErrorAction Stop
        [PSCustomObject]@{ Result = Install-PrefectStack @Parameters -ErrorAction Stop; Failure = $null }
    } catch {
        [PSCustomObject]@{ Result = $null; Failure = $_.Exception.Message }
    }
}

function ConvertTo-FleetRow {
    # One host's row of the table, from what its run returned (or why it has nothing).
    param([string] $ComputerName, [string] $Role, [object] $Answer, [string] $Failure)
    $result = $null
    if ($null -ne $Answer) {
        $result = $Answer.Result
        if (-not $Failure) {
            $Failure = $Answer.Failure
        }
    }
    $seconds = [ordered]@{}
    $healthy = $false
    if ($null -ne $result) {
        foreach ($phase in @($result.Phases)) {
            if ($null -ne $phase) {
                $seconds[[string]$phase.Name] = $phase.Seconds
            }
        }
        $healthy = [bool]$result.Healthy
        if (-not $healthy -and -not $Failure -and $null -ne $result.Diagnosis) {
            $Failure = @(@($result.Diagnosis) | Where-Object -FilterScript { $_.Status -eq 'Fail' } | ForEach-Object -Process { $_.Message }) -join '; '
        }
    }
    [PSCustomObject]@{
        PSTypeName = 'PrefectWin.FleetResult'
        ComputerName = $ComputerName
        Role = $Role
        Healthy = $healthy
        Seconds = [PSCustomObject]$seconds
        Failure = $Failure
        Result = $result
    }
}

function Copy-FleetModule {
    # The module onto one host; the failure, if any, as text.
    param([object] $Session, [string] $From, [string] $To)
    try {
        Invoke-Command -Session $Session -ScriptBlock {
            param([string] $Folder)
            $null = New-Item -Path $Folder -ItemType Directory -Force
        } -ArgumentList $To -ErrorAction Stop
        # -WhatIf:$false: the host's plan needs the module there, so the copy happens either way.
        Copy-Item -Path (Join-Path -Path $From -ChildPath '*') -Destination $To -ToSession $Session -Recurse -Force -ErrorAction Stop -WhatIf:$false
        $null
    } catch {
        'Copying the module failed: ' + $_.Exception.Message
    }
}

$ModulePath = (Resolve-Path -LiteralPath $ModulePath -ErrorAction Stop).ProviderPath
if (-not (Test-Path -LiteralPath (Join-Path -Path $ModulePath -ChildPath 'PrefectWin.psd1'))) {
    throw "-ModulePath $ModulePath holds no PrefectWin.psd1. Give the module folder that './build.ps1 Build' writes (out/PrefectWin/<version>)."
}

$created = @()
try {
    # Sessions as plain objects from here: those made here or the admin's.
    $toServer = $ServerSession
    $toWorkers = @($WorkerSession)
    if ($PSCmdlet.ParameterSetName -eq 'ComputerName') {
        $sessionParameters = @{ ErrorAction = 'Stop' }
        if ($null -ne $Credential) {
            $sessionParameters['Credential'] = $Credential
        }
        $toServer = New-PSSession -ComputerName $ServerComputerName @sessionParameters
        $created += $toServer
        $toWorkers = @()
        foreach ($computer in $WorkerComputerName) {
            try {
                $toWorkers += New-PSSession -ComputerName $computer @sessionParameters
            } catch {
                ConvertTo-FleetRow -ComputerName $computer -Role 'Worker' -Failure ('No session: ' + $_.Exception.Message)
            }
        }
        $created += $toWorkers
    }

    $common = @{}
    foreach ($name in @('PythonPath', 'PrefectVersion', 'WheelFolder', 'NssmPath', 'TimeoutSec')) {
        if ($PSBoundParameters.ContainsKey($name)) {
            $common[$name] = $PSBoundParameters[$name]
        }
    }
    $common['AuthCredential'] = $AuthCredential
    if ($WhatIfPreference) {
        $common['WhatIf'] = $true
    }
    if (-not $ServerAddress) {
        $ServerAddress = $toServer.ComputerName
    }

    $serverParameters = $common + @{ Role = 'Server'; Port = $Port; BindAddress = '0.0.0.0'; OpenFirewall = $true; AllowFrom = $AllowFrom }
    $failure = Copy-FleetModule -Session $toServer -From $ModulePath -To $RemoteModulePath
    $answer = $null
    if (-not $failure) {
        $answer = Invoke-Command -Session $toServer -ScriptBlock $installOnHost -ArgumentList $RemoteModulePath, $serverParameters -ErrorAction SilentlyContinue -ErrorVariable serverLost
        if ($null -eq $answer) {
            $failure = 'No answer from the host: ' + (@($serverLost | ForEach-Object -Process { $_.Exception.Message }) -join '; ')
        }
    }
    $serverRow = ConvertTo-FleetRow -ComputerName $toServer.ComputerName -Role 'Server' -Answer $answer -Failure $failure
    $serverRow

    # With -WhatIf the server is planned, not running, so a plan that came back is enough.
    $serverUsable = $serverRow.Healthy -or ($WhatIfPreference -and $null -ne $serverRow.Result)
    $workerParameters = $common + @{ Role = 'Worker'; ApiUrl = ('http://{0}:{1}/api' -f $ServerAddress, $Port); Pool = $Pool }
    $ready = @()
    foreach ($session in $toWorkers) {
        if (-not $serverUsable) {
            ConvertTo-FleetRow -ComputerName $session.ComputerName -Role 'Worker' -Failure "Not run: the server on $($toServer.ComputerName) is not healthy."
            continue
        }
        $failure = Copy-FleetModule -Session $session -From $ModulePath -To $RemoteModulePath
        if ($failure) {
            ConvertTo-FleetRow -ComputerName $session.ComputerName -Role 'Worker' -Failure $failure
        } else {
            $ready += $session
        }
    }
    if ($ready.Count -gt 0) {
        # All workers at once; each answer carries the PSComputerName of its host.
        $answers = @(Invoke-Command -Session $ready -ScriptBlock $installOnHost -ArgumentList $RemoteModulePath, $workerParameters -ErrorAction SilentlyContinue -ErrorVariable lost)
        foreach ($session in $ready) {
            $mine = @($answers | Where-Object -FilterScript { $_.PSComputerName -eq $session.ComputerName })
            $missing = $null
            if ($mine.Count -eq 0) {
                $missing = 'No answer from the host: ' + (@($lost | Where-Object -FilterScript { $_.OriginInfo.PSComputerName -eq $session.ComputerName } | ForEach-Object -Process { $_.Exception.Message }) -join '; ')
            }
            ConvertTo-FleetRow -ComputerName $session.ComputerName -Role 'Worker' -Answer ($mine | Select-Object -First 1) -Failure $missing
        }
    }
} finally {
    if ($created.Count -gt 0) {
        Remove-PSSession -Session $created -ErrorAction SilentlyContinue -WhatIf:$false
    }
}
