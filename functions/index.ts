/**
 * Entry module: loading it registers every function with functions-framework.
 * Deploy one with `--target=<name>` (the route table's `fn`).
 */
import './machines/create';
import './machines/list';
import './machines/get';
import './machines/update';
import './machines/delete';
import './profiles/create';
import './profiles/get';
import './profiles/update';
import './profiles/delete';
import './boot/script';
import './boot/kernel';
import './boot/initrd';
import './health/startup';
import './health/liveness';
import './blobs/sweep';
