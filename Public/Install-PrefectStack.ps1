function Install-PrefectStack {
    <#
    .SYNOPSIS
    Takes a computer that has Python to a healthy, secured Prefect server and worker, in one
    planned and reversible command.
    .DESCRIPTION
    One plan, shown whole by -WhatIf and applied by the one change engine:
    1. the interpreter: a dedicated venv (by default under the PrefectWin data folder,
       %ProgramData%\PrefectWin\venvs\prefect-<version>) made from the base Python, with a
       pinned Prefect release and the pins that release needs today, installed from the package
       index pip is configured with or, with -WheelFolder, from a folder of wheels only;
    2. NSSM: the one given, or the one on PATH, else installed with winget or Chocolatey when
       one of them is present; it must be 2.24-101 or later (older ones leave services
       'paused' on Windows 10 and later);
    3. the services, planned exactly as Install-PrefectService plans them: the server behind
       Prefect's basic auth when it listens beyond loopback, each service under its own virtual
       account with Modify rights only on PREFECT_HOME and the logs, a firewall rule only with
       -OpenFirewall and scoped to -AllowFrom; the worker points at the server and sends its
       auth string;
    4. a health wait, with progress, until the server answers an authenticated call and the
       worker's heartbeat is in its pool.
    If any step fails, every step already done is undone: a venv this run created is removed, a
    service it installed is uninstalled. Then the same checks Test-PrefectEnvironment
    -ServiceName runs are run for each service, and the result says whether everything is
    green or exactly what is not. Running the command again with the same parameters changes
    nothing and reports health and the diagnosis again; a changed parameter changes only what
    it must. The result reports the time each phase took.
    Passwords travel inside the request on the backend's standard input, never on a command
    line, and appear in no output, plan or message.
    .PARAMETER ServerName
    The server's service name. Default PrefectServer.
    .PARAMETER WorkerName
    The worker's service name. Default PrefectWorker.
    .PARAMETER Role
    Both (the default) installs a server and a worker that uses it; Server only the server;
    Worker only a worker, for a server on another computer (-ApiUrl). An option of the service
    the role does not install (-Pool with -Role Server, -Port with -Role Worker, ...) is refused.
    .PARAMETER PythonPath
    The base python.exe the venv is made from. By default the py launcher's Python 3.
    .PARAMETER PrefectVersion
    The Prefect release to install. Default: the release this PrefectWin is tested with
    (3.9.1). Services of the stack that already run another release are not moved to this one
    (a server migrates its database on a new release, and this command takes no backup): it
    refuses, and Update-PrefectService upgrades them with a backup.
    .PARAMETER WheelFolder
    Installs from this folder of wheels only, with no package index, for computers without
    internet access (fill it with pip download prefect==<version> --dest <folder>).
    .PARAMETER VenvPath
    The venv's folder. Default: %ProgramData%\PrefectWin\venvs\prefect-<version>. A folder
    that holds files but no python.exe is refused.
    .PARAMETER NssmPath
    The nssm.exe to use. By default the one on PATH, else one installed with winget or
    Chocolatey.
    .PARAMETER PrefectHome
    PREFECT_HOME and the working directory of both services. Default %ProgramData%\Prefect.
    .PARAMETER Port
    The server's API port. Default 4200.
    .PARAMETER BindAddress
    The address the server listens on. Default 127.0.0.1; 0.0.0.0 (with -AuthCredential and
    -OpenFirewall) for workers on other computers.
    .PARAMETER AuthCredential
    Prefect's basic auth as a PSCredential (USER:PASSWORD): the server requires it and the
    worker sends it. Required when -BindAddress is not loopback, unless -AllowAnonymous. With
    -Role Worker, the credential of the remote server.
    .PARAMETER AllowAnonymous
    Lets the server listen on a non-loopback address without -AuthCredential; a warning says
    what that exposes.
    .PARAMETER OpenFirewall
    Adds an inbound firewall rule for the server's port, limited to -AllowFrom on the Domain and
    Private profiles.
    .PARAMETER AllowFrom
    With -OpenFirewall: the remote addresses, subnets or ranges the rule allows. Default
    LocalSubnet.
    .PARAMETER FirewallProfile
    With -OpenFirewall: the firewall profiles the rule applies on. Default Domain and Private.
    .PARAMETER ApiUrl
    With -Role Worker: the API URL of the server on another computer, for example
    http://prefect01:4200/api.
    .PARAMETER Pool
    The work pool the worker polls. Default 'default'.
    .PARAMETER WorkerType
    The worker type. Default process.
    .PARAMETER DatabaseUrl
    The server's database URL without its password, for example
    postgresql+asyncpg://prefect@db01:5432/prefect. Default: SQLite under PREFECT_HOME.
    .PARAMETER DatabaseCredential
    The database user and password, merged into -DatabaseUrl by the backend.
    .PARAMETER Account
    The account both services run as. By default each runs as its own virtual account,
    NT SERVICE\<name>.
    .PARAMETER Credential
    The password of a user -Account.
    .PARAMETER Force
    As for Install-PrefectService: takes over an existing service named -ServerName or
    -WorkerName that PrefectWin does not manage (its NSSM settings are replaced), allows the
    SQLite database on a network share, and sets -Credential again.
    .PARAMETER TimeoutSec
    How long each health wait waits: the server's before the worker starts, the plan's last one,
    and the one before the final diagnosis. Default 180 seconds. The whole command can take up to
    an hour (the venv, pip and, on a failure, pip's rollback) plus three times TimeoutSec.
    .EXAMPLE
    Install-PrefectStack -WhatIf
    Lists every action: the venv, pip, NSSM, the actions of each service and the health wait. Nothing
    changes.
    .EXAMPLE
    Install-PrefectStack -BindAddress 0.0.0.0 -OpenFirewall -AllowFrom '10.20.0.0/16' -AuthCredential (Get-Credential admin)
    Installs a server that workers on 10.20.0.0/16 can reach behind basic auth, and a worker on
    this computer that sends the same credentials, then waits until both are healthy.
    .EXAMPLE
    Install-PrefectStack -Role Worker -ApiUrl 'http://prefect01:4200/api' -AuthCredential (Get-Credential admin) -Pool windows-etl -WheelFolder D:\wheels
    On a computer without internet access, installs Prefect from a folder of wheels and a
    worker for the server on prefect01.
    .INPUTS
    None.
    .OUTPUTS
    PrefectWin.StackResult
    .LINK
    Install-PrefectService
    .LINK
    Test-PrefectEnvironment
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    [OutputType('PrefectWin.StackResult')]
    param(
        [Parameter()]
        [string] $ServerName,
        [Parameter()]
        [string] $WorkerName,
        [Parameter()]
        [ValidateSet('Server', 'Worker', 'Both')]
        [string] $Role,
        [Parameter()]
        [string] $PythonPath,
        [Parameter()]
        [string] $PrefectVersion,
        [Parameter()]
        [string] $WheelFolder,
        [Parameter()]
        [string] $VenvPath,
        [Parameter()]
        [string] $NssmPath,
        [Parameter()]
        [string] $PrefectHome,
        [Parameter()]
        [ValidateRange(1, 65535)]
        [int] $Port,
        [Parameter()]
        [string] $BindAddress,
        [Parameter()]
        [System.Management.Automation.PSCredential] $AuthCredential,
        [Parameter()]
        [switch] $AllowAnonymous,
        [Parameter()]
        [switch] $OpenFirewall,
        [Parameter()]
        [string[]] $AllowFrom,
        [Parameter()]
        [string[]] $FirewallProfile,
        [Parameter()]
        [string] $ApiUrl,
        [Parameter()]
        [string] $Pool,
        [Parameter()]
        [string] $WorkerType,
        [Parameter()]
        [string] $DatabaseUrl,
        [Parameter()]
        [System.Management.Automation.PSCredential] $DatabaseCredential,
        [Parameter()]
        [string] $Account,
        [Parameter()]
        [System.Management.Automation.PSCredential] $Credential,
        [Parameter()]
        [switch] $Force,
        [Parameter()]
        [ValidateRange(1, 3600)]
        [int] $TimeoutSec
    )
    $parameters = ConvertTo-PrefectParameter -BoundParameters $PSBoundParameters
    # An hour for the venv (5 minutes), pip (15), pip's rollback, NSSM's install and the
    # diagnosis, plus the three health waits: the server's gate, the plan's last, the report's.
    $bridgeTimeout = 3600 + 3 * [System.Math]::Max(180, $TimeoutSec)
    # An empty plan is applied too: it still waits for health and runs the diagnosis.
    Invoke-PrefectPlan -Cmdlet $PSCmdlet -Command 'stack.install' -Parameters $parameters -Target 'Prefect stack' -ApplyEmpty -TimeoutSec $bridgeTimeout |
        ConvertTo-PrefectObject -TypeName 'StackResult'
}
