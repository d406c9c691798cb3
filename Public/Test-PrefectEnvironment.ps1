function Test-PrefectEnvironment {
    <#
    .SYNOPSIS
    Checks whether this machine is ready to run Prefect 3: Python, Prefect, settings, port,
    database, encoding and Windows.

    .DESCRIPTION
    Runs the PrefectWin diagnosis and returns one PrefectWin.CheckResult per check, with the
    properties Check, Status (Pass, Warning, Fail or Skipped), Message, Remediation and Data.

    Facts about Prefect (its version and effective settings) are asked of the target
    interpreter, the one Prefect runs under, in one probe process; the backend never imports
    Prefect itself. The checks are: python.found, python.version, python.path-spaces,
    prefect.installed, prefect.cli-on-path, settings.home, settings.profile, settings.api-url,
    port.available, database, encoding, server.health, server.auth (a server that will listen on
    a non-loopback address must require an auth string), server.version, and the Windows-only
    windows.admin, windows.execution-policy, windows.firewall, windows.firewall-scope, windows.defender,
    windows.long-paths and windows.nssm (Skipped elsewhere, with the reason).

    With -ServiceName (or services piped from Get-PrefectService), the diagnosis describes an
    installed service as the Service Control Manager starts it, not this shell: its python.exe
    (from NSSM's Application and AppParameters), its environment (the service account's own
    variables, NSSM's AppEnvironmentExtra, and the .env in its working directory that Prefect
    reads), its working directory, and its account (TEMP, PATH, the execution policy in force
    for that account, and whether it may modify a UNC PREFECT_HOME). Then the service checks
    run: service.working-directory, service.environment, service.secrets-file (the service's
    secrets sit in a file only its account, SYSTEM and Administrators can read, and none in
    NSSM's registry values), service.temp, service.path,
    service.execution-policy, service.home-access, and for a worker service.api-url-match,
    service.auth-match and service.database-match, which compare its API URL, auth string and
    database with those of its PrefectWin server service. Each result's Service property names
    the service; without -ServiceName the service checks are not run (name one with -Check to
    see it Skipped).

    Nothing is changed. A check that fails is an object with Status Fail, not an error; errors
    are written only when the diagnosis itself cannot run (per service, for piped services).

    .PARAMETER PythonPath
    The interpreter Prefect runs under (for a service: its python.exe). By default, the
    interpreter that runs the PrefectWin backend.

    .PARAMETER Port
    The port the Prefect server listens on. By default, the effective PREFECT_SERVER_API_PORT.

    .PARAMETER PrefectHome
    The PREFECT_HOME to check. By default, the effective PREFECT_HOME.

    .PARAMETER Role
    What this machine runs as a service: Server (the default) or Worker. A worker is checked
    for an API URL, so that it does not fall back to an ephemeral server of its own.

    .PARAMETER Check
    Runs only these checks. By default, all of them.

    .PARAMETER ServiceName
    Diagnoses this installed service (an NSSM service, such as one Install-PrefectService
    created) with its own interpreter, environment, working directory and account. Accepts
    pipeline input by property name (Name or ServiceName), so the output of Get-PrefectService
    can be piped in. Cannot be combined with -PythonPath, -PrefectHome, -Role or -Port, which
    come from the service.

    .EXAMPLE
    Test-PrefectEnvironment

    Runs every check with the defaults and shows them as a table.

    .EXAMPLE
    Test-PrefectEnvironment -Port 4200 | Where-Object Status -eq Fail

    Shows only the checks that fail when the server is to listen on port 4200. If the port is
    taken, the port.available check names the process that holds it.

    .EXAMPLE
    Test-PrefectEnvironment -Role Worker -PythonPath C:\Prefect\venv\Scripts\python.exe -Check 'settings.profile', 'settings.api-url'

    Checks that a worker running under that interpreter would talk to the right server.

    .EXAMPLE
    Test-PrefectEnvironment -ServiceName PrefectWorker | Where-Object Status -ne Pass

    Shows what is wrong with the PrefectWorker service as it runs: for example a PREFECT_API_URL
    in its working folder's .env that points at another port than its server listens on, or an
    auth string that differs from the server's.

    .EXAMPLE
    Get-PrefectService | Test-PrefectEnvironment -Check 'service.api-url-match', 'service.auth-match' | Format-Table -Property 'Service', 'Check', 'Status', 'Message'

    Checks every PrefectWin service on this computer, one diagnosis per service, and shows which
    service each result belongs to.

    .INPUTS
    Objects with a Name (or ServiceName) property, such as PrefectWin.ServiceInfo from
    Get-PrefectService.

    .OUTPUTS
    PrefectWin.CheckResult

    .LINK
    Repair-PrefectEnvironment

    .LINK
    Install-PrefectService
    #>
    [CmdletBinding(DefaultParameterSetName = 'Shell')]
    [OutputType('PrefectWin.CheckResult')]
    param(
        [Parameter(ParameterSetName = 'Shell')]
        [string] $PythonPath,

        [Parameter(ParameterSetName = 'Shell')]
        [ValidateRange(1, 65535)]
        [int] $Port,

        [Parameter(ParameterSetName = 'Shell')]
        [string] $PrefectHome,

        [Parameter(ParameterSetName = 'Shell')]
        [ValidateSet('Server', 'Worker')]
        [string] $Role = 'Server',

        [Parameter()]
        [ValidateSet('python.found', 'python.version', 'python.path-spaces', 'prefect.installed', 'prefect.cli-on-path', 'settings.home', 'settings.profile', 'settings.api-url', 'port.available', 'database', 'encoding', 'server.health', 'server.auth', 'server.version', 'windows.admin', 'windows.execution-policy', 'windows.firewall', 'windows.firewall-scope', 'windows.defender', 'windows.long-paths', 'windows.nssm', 'service.working-directory', 'service.environment', 'service.secrets-file', 'service.temp', 'service.path', 'service.execution-policy', 'service.home-access', 'service.api-url-match', 'service.auth-match', 'service.database-match')]
        [string[]] $Check,

        [Parameter(Mandatory = $true, ParameterSetName = 'Service', ValueFromPipelineByPropertyName = $true)]
        [Alias('Name')]
        [string] $ServiceName
    )
    process {
        # One diagnosis per piped service: each runs that service's own interpreter.
        $parameters = ConvertTo-PrefectParameter -BoundParameters $PSBoundParameters
        Invoke-PrefectBackend -Cmdlet $PSCmdlet -Command 'environment.test' -Parameters $parameters |
            ConvertTo-PrefectObject -TypeName 'CheckResult'
    }
}
