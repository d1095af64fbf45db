// Paths to nodes: walks the directory views from the mount root. Directories are views too, so /sbx/ and
// /rescued/<UID>/ plug in as DirectoryView nodes without touching the FUSE glue.
import { DirectoryView, Node, ViewErrno } from '../views/view';

export class Router {
  constructor(readonly root: DirectoryView) {}

  /** The node at an absolute FUSE path ('/', '/raw', '/rescued/ABC/x.bin'), or a ViewErrno. */
  async resolve(path: string): Promise<Node | ViewErrno> {
    let node: Node = this.root;
    for (const name of path.split('/')) {
      if (name === '') continue;
      if (node.kind !== 'directory') return new ViewErrno('ENOTDIR');
      const next: Node | undefined = (await node.entries()).get(name);
      if (!next) return new ViewErrno('ENOENT');
      node = next;
    }
    return node;
  }
}
