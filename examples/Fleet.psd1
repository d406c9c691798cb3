# ConfigurationData for examples/Fleet.ps1: one server and two workers on three nodes. Replace the
# names, addresses, certificates and thumbprints with your own. PythonPath is the python.exe of
# the venv that Install-PrefectStack -Role Server / -Role Worker made on the node (or that the
# node's image holds); this configuration does not make it. No secret belongs in this file:
# credentials are parameters of Fleet.ps1, encrypted per node with CertificateFile, or machine
# variables named by AuthStringVariable and DatabaseUrlVariable.
@{
    AllNodes = @(
        @{
            NodeName = 'prefect01'
            Role = 'Server'
            # What the workers connect to; the server listens on BindAddress (0.0.0.0).
            Address = '10.0.1.10'
            PythonPath = 'C:\ProgramData\PrefectWin\venvs\prefect-3.9.1\Scripts\python.exe'
            CertificateFile = 'C:\dsc\certificates\prefect01.cer'
            Thumbprint = '1111111111111111111111111111111111111111'
        }
        @{
            NodeName = 'worker01'
            Role = 'Worker'
            Address = '10.0.1.21'
            PythonPath = 'C:\ProgramData\PrefectWin\venvs\prefect-3.9.1\Scripts\python.exe'
            CertificateFile = 'C:\dsc\certificates\worker01.cer'
            Thumbprint = '2222222222222222222222222222222222222222'
        }
        @{
            NodeName = 'worker02'
            Role = 'Worker'
            Address = '10.0.1.22'
            Pool = 'etl'
            PythonPath = 'C:\ProgramData\PrefectWin\venvs\prefect-3.9.1\Scripts\python.exe'
            CertificateFile = 'C:\dsc\certificates\worker02.cer'
            Thumbprint = '3333333333333333333333333333333333333333'
        }
    )
    NonNodeData = @{
        PrefectFleet = @{
            Port = 4200
            Pool = 'windows'
            WorkerType = 'process'
            # The server's firewall rule admits only the workers' subnet.
            AllowFrom = @('10.0.1.0/24')
            FirewallProfile = @('Domain')
            # Without its password: that is -DatabaseCredential.
            DatabaseUrl = 'postgresql+asyncpg://prefect@db01:5432/prefect'
        }
    }
}
