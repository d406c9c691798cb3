function Install-PrefectService {
    <#
    .SYNOPSIS
    Installs or updates a Prefect server or worker as a Windows service (NSSM), planned and
    reversible.

    .DESCRIPTION
    Builds one model of the service from the parameters (python.exe and its arguments,
    PREFECT_HOME as the working directory, the environment, log files rotated by size and age
    with a retention, restart with throttling, Ctrl-C first then a kill of the process tree on
    stop, the service manager's failure actions with a reset period, start type, account,
    dependencies and a marker that PrefectWin manages the service), then:

    1. validates everything before anything changes: the interpreter exists and imports
       Prefect, the port is free or held by this very service, PREFECT_HOME is not on a mapped
       drive, SQLite is not on a network share (unless -Force), NSSM is found, and the session
       is elevated;
    2. reads the service as it is now and plans the actions that make it match; the same
       parameters twice give an empty plan, and a changed port gives only the actions that
       differ, then a restart if the service was running;
    3. asks ShouldProcess for each action (-WhatIf lists them; -Confirm asks for each);
    4. applies them. If an action fails, the ones already done are undone and the error says
       what failed and what was rolled back.

    Passwords are never typed into a URL or a command line: -DatabaseCredential,
    -AuthCredential and -Credential are PSCredentials whose passwords travel inside the request on the backend's
    standard input (a local pipe), never in its argument list, and appear in no output,
    message, plan or log. The service's secrets (the database URL with its password, and
    secret -Environment settings) are not stored in NSSM's registry values, which local users
    can read: they go into PREFECT_HOME\<Name>.secrets.toml, a Prefect profile only the
    service's account can read and only SYSTEM and Administrators can change, which Prefect
    reads through PREFECT_PROFILES_PATH. Running the command again with a new password
    rewrites that file (and restarts a running service); a service installed by an older
    PrefectWin has its secrets moved out of the registry the same way.

    .PARAMETER Name
    The Windows service name: letters, digits, '.', '_' and '-'.

    .PARAMETER Role
    Server runs 'prefect server start'; Worker runs 'prefect worker start'.

    .PARAMETER PythonPath
    The absolute python.exe Prefect runs under. By default, the interpreter that runs the
    PrefectWin backend.

    .PARAMETER PrefectHome
    PREFECT_HOME and the working directory of the service. By default %ProgramData%\Prefect,
    never the installing user's profile: a service account has another home directory.

    .PARAMETER Port
    Server only: the API port. Default 4200.

    .PARAMETER BindAddress
    Server only: the address the server listens on. Default 127.0.0.1; use 0.0.0.0 (with
    -AuthCredential, and -OpenFirewall) for workers on other computers.

    .PARAMETER DatabaseUrl
    Server only: the database URL without its password, for example
    postgresql+asyncpg://prefect@db01:5432/prefect. By default, SQLite under PREFECT_HOME.

    .PARAMETER DatabaseCredential
    Server only: the database user and password, merged into -DatabaseUrl by the backend.

    .PARAMETER AuthCredential
    Prefect's basic auth, as a PSCredential whose user name and password become USER:PASSWORD.
    A server requires it (PREFECT_SERVER_API_AUTH_STRING; the server also gets the same
    PREFECT_API_AUTH_STRING for its own CLI and health checks). A worker sends it
    (PREFECT_API_AUTH_STRING). A worker that uses the PrefectWin server of this computer (no
    -ApiUrl) gets that server's string without this parameter; a worker with -ApiUrl needs it
    when its server requires auth. Required for a server whose -BindAddress is not loopback,
    unless -AllowAnonymous. Needs Prefect 3.1.15 or later on the server. The string is kept
    with the service's other secrets and appears in no output, plan or message.

    .PARAMETER AllowAnonymous
    Server only: lets a server listen on a non-loopback -BindAddress without -AuthCredential.
    Anyone who can reach the port can then create deployments whose code the workers run; a
    warning says so.

    .PARAMETER OpenFirewall
    Server only: adds an inbound firewall rule for the port, removed again with the service.
    The rule lets in only -AllowFrom (default: the local subnet) on the Domain and Private
    profiles (see -FirewallProfile).

    .PARAMETER AllowFrom
    With -OpenFirewall: the remote addresses the rule allows, each an IPv4 or IPv6 address
    (10.0.0.5), a subnet (10.0.0.0/24 or 10.0.0.0/255.255.255.0), a range
    (10.0.0.5-10.0.0.9) or one of Windows' keywords LocalSubnet, DefaultGateway, DNS, DHCP,
    WINS or Any. Default LocalSubnet. Host names are refused; Any opens the API to every
    address that can route to this computer.

    .PARAMETER FirewallProfile
    With -OpenFirewall: the firewall profiles the rule applies on. Default Domain and Private;
    add Public only for a server that must be reached on a network Windows calls public.

    .PARAMETER ApiUrl
    Worker only: the server's API URL. By default, the PrefectWin server on this computer, or
    http://127.0.0.1:4200/api.

    .PARAMETER Pool
    Worker only: the work pool the worker polls.

    .PARAMETER WorkerType
    Worker only: the worker type (process, docker, ...). Default process.

    .PARAMETER WorkQueue
    Worker only: the work queues to poll. By default, all queues of the pool.

    .PARAMETER DependsOn
    Services that must be running first. A worker depends on the PrefectWin server of this
    computer by default, so Windows starts it after and stops it before the server.

    .PARAMETER Environment
    More environment variables for the service. Variables that a parameter owns (PREFECT_HOME,
    PREFECT_API_URL, the database URL, PREFECT_PROFILES_PATH, ...) are refused. A Prefect
    setting whose name looks secret (PREFECT_API_KEY, an auth string, a password) or whose
    value carries URL credentials goes into the service's secrets file, not into NSSM. So does
    any other variable whose name looks secret (AWS_SECRET_ACCESS_KEY, DB_PASSWORD, ...) or
    whose value carries URL credentials; the service then starts through PrefectWin's launcher,
    which sets it before Prefect starts.

    .PARAMETER SecretEnvironment
    Environment variables whose values are secret, whatever their names: strings or
    SecureStrings. They are kept only in the service's secrets file, which only its account and
    Administrators can read, never in NSSM's registry values; a Prefect setting is read by
    Prefect from there, any other variable is set by PrefectWin's launcher before Prefect
    starts. Every value is masked in plans, messages and logs. A name may not be given in
    both -Environment and -SecretEnvironment.

    .PARAMETER Account
    The account the service runs as. By default the service's own virtual account,
    NT SERVICE\<Name>, which Windows creates with the service and which has no password and
    no rights beyond what PrefectWin grants it. Otherwise DOMAIN\user or .\user (with
    -Credential), a gMSA (DOMAIN\name$), LocalService, NetworkService, or LocalSystem, which
    must be asked for explicitly. Where the account lacks them, it is granted Modify rights on
    PREFECT_HOME and the log directory (and the folder of a SQLite database kept elsewhere),
    and read and execute rights on the interpreter's folders. The grants made are recorded
    with the service, and Uninstall-PrefectService takes back exactly those.

    .PARAMETER Credential
    The password of a user -Account. Set again on an existing service only with -Force.

    .PARAMETER StartupType
    Automatic (the default), AutomaticDelayed or Manual.

    .PARAMETER LogDirectory
    Where the service's stdout and stderr logs go. Default: PREFECT_HOME\logs.

    .PARAMETER LogRotateBytes
    Rotates a log file once it is this large, while the service runs. Default 10 MiB.

    .PARAMETER LogRotateSeconds
    When NSSM starts the application, it first rotates a log file older than this. 0 turns
    time rotation off. Default 86400 (a day).

    .PARAMETER LogRetentionCount
    Keeps this many rotated copies of each log file (NSSM rotates but never deletes). Older
    ones are deleted by this command, as planned actions that -WhatIf lists, and every day by
    the scheduled task \PrefectWin\<Name>-logs that this command registers. Default 10.

    .PARAMETER LogRetentionDays
    Also deletes rotated copies older than this many days. 0: no age limit. Default 30.

    .PARAMETER NssmPath
    The nssm.exe to use. By default, the one on PATH.

    .PARAMETER Start
    Starts the service after installing it.

    .PARAMETER Wait
    Starts the service and waits until it is healthy (with progress), up to -TimeoutSec.

    .PARAMETER TimeoutSec
    How long -Wait waits. Default 120 seconds.

    .PARAMETER Force
    Takes over an existing service that PrefectWin does not manage, allows SQLite on a network
    share, and sets the -Credential password again.

    .PARAMETER PassThru
    Returns the service as a PrefectWin.ServiceInfo.

    .EXAMPLE
    Install-PrefectService -Name PrefectServer -Role Server -Port 4200 -Wait -WhatIf

    Lists every action that installing the server would take, and changes nothing.

    .EXAMPLE
    Install-PrefectService -Name PrefectServer -Role Server -BindAddress 0.0.0.0 -OpenFirewall -AuthCredential (Get-Credential admin) -DatabaseUrl 'postgresql+asyncpg://prefect@db01:5432/prefect' -DatabaseCredential (Get-Credential prefect) -Wait

    Installs a server that workers on other computers of the local subnet can reach, behind
    Prefect's basic auth, on PostgreSQL, and waits until /api/health and /api/ready answer and an
    authenticated call succeeds.

    .EXAMPLE
    Install-PrefectService -Name PrefectEtl -Role Worker -Pool etl -SecretEnvironment @{ DB_PASSWORD = (Read-Host -AsSecureString 'DB password') }

    A worker whose flows read DB_PASSWORD: it is kept in the secrets file, not in the registry.

    .EXAMPLE
    Install-PrefectService -Name PrefectWorker -Role Worker -Pool windows-etl -ApiUrl 'http://prefect01:4200/api' -AuthCredential (Get-Credential admin) -Start

    Installs a worker on another computer that sends the server's auth string; the install is
    refused if the server refuses it.

    .EXAMPLE
    Install-PrefectService -Name PrefectServer -Role Server -BindAddress 0.0.0.0 -OpenFirewall -AllowFrom '10.20.0.0/16', '192.168.5.10' -AuthCredential (Get-Credential admin) -WhatIf

    Shows the plan for a server whose firewall rule lets in only the subnet 10.20.0.0/16 and
    the host 192.168.5.10, on the Domain and Private profiles; the plan names the account
    (NT SERVICE\PrefectServer) and every ACL grant.

    .EXAMPLE
    Install-PrefectService -Name PrefectWorker -Role Worker -Pool windows-etl -Start -PassThru

    Installs a worker for the pool windows-etl that talks to, and depends on, the PrefectWin
    server of this computer, starts it, and returns it.

    .INPUTS
    None.

    .OUTPUTS
    PrefectWin.ServiceInfo

    .LINK
    Get-PrefectService

    .LINK
    Uninstall-PrefectService
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    [OutputType('PrefectWin.ServiceInfo')]
    param(
        [Parameter(Mandatory = $true, Position = 0)]
        [string] $Name,

        [Parameter(Mandatory = $true)]
        [ValidateSet('Server', 'Worker')]
        [string] $Role,

        [Parameter()]
        [string] $PythonPath,

        [Parameter()]
        [string] $PrefectHome,

        [Parameter()]
        [ValidateRange(1, 65535)]
        [int] $Port,

        [Parameter()]
        [string] $BindAddress,

        [Parameter()]
        [string] $DatabaseUrl,

        [Parameter()]
        [System.Management.Automation.PSCredential] $DatabaseCredential,

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
        [string[]] $WorkQueue,

        [Parameter()]
        [string[]] $DependsOn,

        [Parameter()]
        [hashtable] $Environment,

        [Parameter()]
        [hashtable] $SecretEnvironment,

        [Parameter()]
        [string] $Account,

        [Parameter()]
        [System.Management.Automation.PSCredential] $Credential,

        [Parameter()]
        [ValidateSet('Automatic', 'AutomaticDelayed', 'Manual')]
        [string] $StartupType,

        [Parameter()]
        [string] $LogDirectory,

        [Parameter()]
        [ValidateRange(1024, 2147483647)]
        [int] $LogRotateBytes,

        [Parameter()]
        [ValidateRange(0, 31536000)]
        [int] $LogRotateSeconds,

        [Parameter()]
        [ValidateRange(1, 10000)]
        [int] $LogRetentionCount,

        [Parameter()]
        [ValidateRange(0, 36500)]
        [int] $LogRetentionDays,

        [Parameter()]
        [string] $NssmPath,

        [Parameter()]
        [switch] $Start,

        [Parameter()]
        [switch] $Wait,

        [Parameter()]
        [ValidateRange(1, 3600)]
        [int] $TimeoutSec,

        [Parameter()]
        [switch] $Force,

        [Parameter()]
        [switch] $PassThru
    )
    $parameters = ConvertTo-PrefectParameter -BoundParameters $PSBoundParameters
    $bridgeTimeout = [System.Math]::Max(600, $TimeoutSec + 300)
    $result = Invoke-PrefectPlan -Cmdlet $PSCmdlet -Command 'service.install' -Parameters $parameters -Target $Name -ApplyEmpty:($Wait -or $PassThru) -TimeoutSec $bridgeTimeout
    if ($PassThru -and $null -ne $result -and $null -ne $result.service) {
        $result.service | ConvertTo-PrefectObject -TypeName 'ServiceInfo'
    }
}
