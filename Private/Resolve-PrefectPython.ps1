# The backend interpreter, once found; Resolve-PrefectPython -Force looks again.
$script:PrefectWinBackendPython = $null

function Resolve-PrefectPython {
    <#
    .SYNOPSIS
    Finds the Python interpreter that runs the PrefectWin backend.

    .DESCRIPTION
    Returns an object with Path (the interpreter) and PrefixArgs (arguments that go before
    '-X utf8 -m prefectwin rpc'), from the first of these that exists:
      1. $env:PREFECTWIN_PYTHON
      2. the pythonPath key of %ProgramData%\PrefectWin\config.json
      3. the virtual environment '.venv' in the module folder (what './build.ps1 Install'
         creates in a clone; create one next to a built or installed module the same way)
      4. the 'py' launcher, as 'py -3'
      5. 'python' (or 'python3') on PATH, except the Microsoft Store stub in WindowsApps and
         except an interpreter under $env:VIRTUAL_ENV: an active venv is never picked implicitly.
    This is the BACKEND interpreter. The interpreter Prefect runs under (the target) is the
    cmdlets' -PythonPath parameter, which the backend receives as the pythonPath parameter.
    Nothing is started here; the result is cached for the session.

    .PARAMETER Cmdlet
    The public cmdlet to report a missing interpreter for; by default this function.

    .PARAMETER Force
    Look again instead of using the cached result.
    #>
    [CmdletBinding()]
    [OutputType([System.Management.Automation.PSCustomObject])]
    param(
        [Parameter()] [System.Management.Automation.PSCmdlet] $Cmdlet,
        [Parameter()] [switch] $Force
    )
    if ($null -ne $script:PrefectWinBackendPython -and -not $Force) {
        return $script:PrefectWinBackendPython
    }
    if ($null -eq $Cmdlet) {
        $Cmdlet = $PSCmdlet
    }
    # The interpreters a setting or a file names, in order, as (path, where it came from); a
    # path of $null is the pythonPath key of that config file. One that is named but missing is
    # warned about. The module's folder is PrefectWin.psm1's: this file's own $PSScriptRoot
    # would be Private/ here and the module folder once './build.ps1 Build' has inlined it.
    $named = @(, @([System.Environment]::GetEnvironmentVariable('PREFECTWIN_PYTHON'), 'PREFECTWIN_PYTHON'))
    $programData = [System.Environment]::GetEnvironmentVariable('ProgramData')
    if ($programData) {
        $named += , @($null, [System.IO.Path]::Combine($programData, 'PrefectWin', 'config.json'))
    }
    $named += , @([System.IO.Path]::Combine($script:PrefectWinModuleRoot, '.venv', 'Scripts', 'python.exe'), 'module venv')
    $named += , @([System.IO.Path]::Combine($script:PrefectWinModuleRoot, '.venv', 'bin', 'python'), 'module venv')
    $found = $null
    foreach ($candidate in $named) {
        $path, $source = $candidate
        try {
            if ($null -eq $path -and (Test-Path -LiteralPath $source -PathType Leaf)) {
                $path = [string](Get-PrefectField -InputObject (Get-Content -LiteralPath $source -Raw -Encoding UTF8 -ErrorAction Stop | ConvertFrom-Json -ErrorAction Stop) -Name 'pythonPath')
            }
        } catch {
            Write-Warning -Message "Ignoring $source, which could not be read: $($_.Exception.Message)"
        }
        if ($path -and (Test-Path -LiteralPath $path -PathType Leaf)) {
            $found = @($path, @(), $source)
            break
        } elseif ($path -and $source -ne 'module venv') {
            Write-Warning -Message "$source names the interpreter '$path', which does not exist; looking elsewhere."
        }
    }
    $virtualEnv = [System.Environment]::GetEnvironmentVariable('VIRTUAL_ENV')
    :search foreach ($name in @($(if ($null -eq $found) { 'py', 'python', 'python3' }))) {
        foreach ($command in @(Get-Command -Name $name -CommandType Application -All -ErrorAction SilentlyContinue)) {
            $path = [string]$command.Path
            if ($name -eq 'py') {
                $found = @($path, @('-3'), 'py launcher')
                break search
            } elseif ($path -match '[\\/]WindowsApps[\\/]') {
                Write-Verbose -Message "Skipping ${path}: the Microsoft Store stub, not an installed Python."
            } elseif ($virtualEnv -and ($path -replace '\\', '/').StartsWith(($virtualEnv -replace '\\', '/').TrimEnd('/') + '/', [System.StringComparison]::OrdinalIgnoreCase)) {
                Write-Verbose -Message "Skipping ${path}: it belongs to the active virtual environment $virtualEnv."
            } else {
                $found = @($path, @(), 'PATH')
                break search
            }
        }
    }
    if ($null -eq $found) {
        $notFound = @{
            code = 'NotInstalled'
            category = 'NotInstalled'
            message = 'No Python interpreter for the PrefectWin backend was found.'
            target = 'PREFECTWIN_PYTHON'
            remediation = "Run './build.ps1 Install' in the PrefectWin folder, or set PREFECTWIN_PYTHON to a python.exe that has the prefectwin package installed."
        }
        $Cmdlet.ThrowTerminatingError((New-PrefectErrorRecord -ErrorObject $notFound))
    }
    Write-Verbose -Message ("PrefectWin backend interpreter: {0} (from {1})" -f $found[0], $found[2])
    $script:PrefectWinBackendPython = [PSCustomObject]@{ PSTypeName = 'PrefectWin.PythonCommand'; Path = $found[0]; PrefixArgs = [string[]]$found[1]; Source = $found[2] }
    $script:PrefectWinBackendPython
}
