# PSScriptAnalyzer settings for PrefectWin, used by './build.ps1 Analyze' and './build.ps1 Test'.
# Findings of severity Error or Warning fail the build; Information findings are only shown.
@{
    Severity = @('Error', 'Warning', 'Information')
    IncludeDefaultRules = $true

    ExcludeRules = @(
        # State-changing cmdlets call ShouldProcess through Private/Invoke-PrefectPlan.ps1, which
        # this rule cannot follow from one file into another. tests/Module.Tests.ps1 requires the
        # pair instead: SupportsShouldProcess exactly on the state-changing commands, together
        # with Invoke-PrefectPlan.
        'PSShouldProcess'
    )

    Rules = @{
        # Everything must run on Windows PowerShell 5.1 as well as PowerShell 7.
        PSUseCompatibleSyntax = @{
            Enable = $true
            TargetVersions = @('5.1', '7.0')
        }

        # House style: opening brace on the same line, 4-space indentation, one space around
        # operators and after separators ('} else {' and '} catch {' stay on one line).
        PSPlaceOpenBrace = @{
            Enable = $true
            OnSameLine = $true
            NewLineAfter = $true
            IgnoreOneLineBlock = $true
        }
        PSPlaceCloseBrace = @{
            Enable = $true
            NewLineAfter = $false
            IgnoreOneLineBlock = $true
            NoEmptyLineBefore = $false
        }
        PSUseConsistentIndentation = @{
            Enable = $true
            Kind = 'space'
            IndentationSize = 4
            PipelineIndentation = 'IncreaseIndentationForFirstPipeline'
        }
        PSUseConsistentWhitespace = @{
            Enable = $true
            CheckInnerBrace = $true
            CheckOpenBrace = $true
            CheckOpenParen = $true
            CheckOperator = $true
            CheckPipe = $true
            CheckSeparator = $true
            CheckParameter = $false
        }

        PSAvoidUsingCmdletAliases = @{
            Enable = $true
        }
    }
}
