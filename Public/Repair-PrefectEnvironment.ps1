function Repair-PrefectEnvironment {
    <#
    .SYNOPSIS
    Runs the PrefectWin diagnosis and fixes what it can: PATH, encoding, firewall, execution
    policy, Defender, long paths and PREFECT_API_URL.

    .DESCRIPTION
    Runs the same checks as Test-PrefectEnvironment. For each check that fails or warns and has
    a fix, it plans that fix; each fix goes through ShouldProcess, so -WhatIf lists the fixes
    without applying them and -Confirm asks about each one. The fixes:
      - prefect.cli-on-path: add the Python Scripts directory to the user PATH;
      - encoding: set PYTHONIOENCODING=utf-8 for the user;
      - windows.firewall: create the inbound firewall rule for the server port (admin);
      - windows.execution-policy: set the CurrentUser execution policy to RemoteSigned;
      - windows.defender: exclude PREFECT_HOME, the Python directory and TEMP (admin);
      - windows.long-paths: enable Win32 long paths (Machine scope, admin);
      - settings.api-url: set PREFECT_API_URL in the active profile to match the server port.

    Every fix is idempotent. After applying, the fixed checks run again and each result's After
    property shows their new status. Variables set for the user are also set in this session,
    so Test-PrefectEnvironment here sees them at once.

    One PrefectWin.RepairResult per check considered says what happened: Changed, Planned
    (-WhatIf), Failed, or Skipped with the reason (not Windows, not admin, nothing to do, or no
    automatic fix, with the check's remediation).

    .PARAMETER PythonPath
    The interpreter Prefect runs under (for a service: its python.exe). By default, the
    interpreter that runs the PrefectWin backend.

    .PARAMETER Port
    The port the Prefect server listens on. By default, the effective PREFECT_SERVER_API_PORT.

    .PARAMETER PrefectHome
    The PREFECT_HOME to check and repair. By default, the effective PREFECT_HOME.

    .PARAMETER Role
    What this machine runs as a service: Server (the default) or Worker. A worker's
    PREFECT_API_URL is never guessed.

    .PARAMETER Check
    Considers only these checks. By default, all of them.

    .EXAMPLE
    Repair-PrefectEnvironment -WhatIf

    Lists every fix that would be applied, and changes nothing.

    .EXAMPLE
    Repair-PrefectEnvironment -Check 'windows.firewall', 'windows.long-paths' -Port 4200

    Creates the inbound rule for TCP 4200 and enables long paths (run as administrator;
    otherwise both are reported Skipped, not admin).

    .EXAMPLE
    Repair-PrefectEnvironment -Confirm | Where-Object Status -ne Skipped

    Asks before each fix and shows only what was changed or failed.

    .INPUTS
    None.

    .OUTPUTS
    PrefectWin.RepairResult

    .LINK
    Test-PrefectEnvironment

    .LINK
    Set-PrefectSetting
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    [OutputType('PrefectWin.RepairResult')]
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
        [ValidateSet('python.found', 'python.version', 'python.path-spaces', 'prefect.installed', 'prefect.cli-on-path', 'settings.home', 'settings.profile', 'settings.api-url', 'port.available', 'database', 'encoding', 'server.health', 'server.auth', 'server.version', 'windows.admin', 'windows.execution-policy', 'windows.firewall', 'windows.firewall-scope', 'windows.defender', 'windows.long-paths', 'windows.nssm')]
        [string[]] $Check
    )
    $parameters = ConvertTo-PrefectParameter -BoundParameters $PSBoundParameters
    $report = Invoke-PrefectPlan -Cmdlet $PSCmdlet -Command 'environment.repair' -Parameters $parameters -Target ([System.Environment]::MachineName)
    if ($null -eq $report) {
        return
    }
    # User-level variables the fixes set (PATH, PYTHONIOENCODING), mirrored into this session.
    Set-PrefectSessionEnvironment -Assignment $report.environment
    $report.results | ConvertTo-PrefectObject -TypeName 'RepairResult'
}
