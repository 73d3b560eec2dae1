// Registers the activities of the release pipeline on import; one import per activity file.
import './plan';
import './model';
import './image';
import './analysis';
import './events';
import './cluster';
