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
    port.available, database, encoding, server.health, server.version, and the Windows-only
    windows.admin, windows.execution-policy, windows.firewall, windows.defender,
    windows.long-paths and windows.nssm (Skipped elsewhere, with the reason).

    Nothing is changed. A check that fails is an object with Status Fail, not an error; errors
    are written only when the diagnosis itself cannot run.

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

    .INPUTS
    None.

    .OUTPUTS
    PrefectWin.CheckResult

    .LINK
    Repair-PrefectEnvironment

    .LINK
    Install-PrefectService
    #>
    [CmdletBinding()]
    [OutputType('PrefectWin.CheckResult')]
    param(
        [Parameter()]
        [string] $PythonPath,

        [Parameter()]
        [ValidateRange(1, 65535)]
        [int] $Port,

        [Parameter()]
        [string] $PrefectHome,

        [Parameter()]
        [ValidateSet('Server', 'Worker')]
        [string] $Role = 'Server',

        [Parameter()]
        [ValidateSet('python.found', 'python.version', 'python.path-spaces', 'prefect.installed', 'prefect.cli-on-path', 'settings.home', 'settings.profile', 'settings.api-url', 'port.available', 'database', 'encoding', 'server.health', 'server.version', 'windows.admin', 'windows.execution-policy', 'windows.firewall', 'windows.defender', 'windows.long-paths', 'windows.nssm')]
        [string[]] $Check
    )
    $parameters = ConvertTo-PrefectParameter -BoundParameters $PSBoundParameters
    Invoke-PrefectBackend -Cmdlet $PSCmdlet -Command 'environment.test' -Parameters $parameters |
        ConvertTo-PrefectObject -TypeName 'CheckResult'
}
