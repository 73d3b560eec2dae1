// Registers the orchestrators and entities of the release pipeline on import.
import './releaseOrchestrator';
import '../src/entities/endpointLedger';
